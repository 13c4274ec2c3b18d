"""Reading the Markdown docs as tests see them: fenced blocks with their markers, code spans, links.

A fenced block may be preceded (on the line before its fence, blank lines allowed) by an HTML
comment that tells the doc tests what to do with it:

- ``<!-- no-test -->``: skip it (cluster commands that need servers, pseudo-code);
- ``<!-- test: output -->``: also compare each command's output with the lines shown after it,
  both read through ``normalise`` (timings, tour lengths and gaps vary from run to run);
- ``<!-- test: exit=2 -->``: every command of the block must exit with that code (default 0);
- ``<!-- test: cluster output -->``: run by test_doc_cluster.py against a real cluster it starts,
  compared through ``normalise_cluster``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The user-facing documentation. docs/TEAM.md is the developers' brief (contract sketches in
# pseudo-Python), not documentation a user runs.
NOT_USER_DOCS = {"TEAM.md"}


def doc_paths() -> list[Path]:
    """README.md and every user doc under docs/, in a stable order."""
    docs = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in NOT_USER_DOCS)
    return [ROOT / "README.md", *docs]


def doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@dataclass
class Block:
    """One fenced code block: language, first line of its body (1-based), body lines, markers."""

    path: Path
    lang: str
    line: int
    lines: list[str]
    markers: set[str] = field(default_factory=set)
    exit_code: int = 0

    @property
    def tested(self) -> bool:
        return "no-test" not in self.markers

    @property
    def needs_cluster(self) -> bool:
        return "cluster" in self.markers

    @property
    def where(self) -> str:
        return f"{doc_id(self.path)}:{self.line}"


_MARKER = re.compile(r"^\s*<!--\s*(.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(`{3,})\s*([\w+-]*)")


def _markers(comment: str) -> tuple[set[str], int]:
    """Tokens of a marker comment ('no-test', 'test: output exit=2') and the exit code."""
    text = comment.removeprefix("test:").strip()
    tokens = set(text.split())
    exit_code = 0
    for token in list(tokens):
        if token.startswith("exit="):
            exit_code = int(token.split("=", 1)[1])
            tokens.discard(token)
    return tokens, exit_code


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, with the markers of the comment just before it."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out: list[Block] = []
    k = 0
    while k < len(lines):
        m = _FENCE.match(lines[k])
        if not m:
            k += 1
            continue
        fence, lang = m.group(1), m.group(2).lower()
        end = k + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        prev = k - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        marker = _MARKER.match(lines[prev]) if prev >= 0 else None
        tokens, exit_code = _markers(marker.group(1)) if marker else (set(), 0)
        out.append(Block(path, lang, k + 2, lines[k + 1 : end], tokens, exit_code))
        k = end + 1
    return out


def prose(path: Path) -> str:
    """The text of ``path`` without its fenced blocks (for links and inline code spans)."""
    text = path.read_text(encoding="utf-8")
    return re.sub(r"^(`{3,}).*?^\1\s*$", "", text, flags=re.M | re.S)


_SPAN = re.compile(r"``\s?(.+?)\s?``|`([^`\n]+)`")


def code_spans(text: str) -> list[str]:
    """Inline code spans of Markdown ``text`` (single or double backticks)."""
    return [a or b for a, b in _SPAN.findall(text)]


def without_code_spans(text: str) -> str:
    return _SPAN.sub("", text)


@dataclass
class Command:
    """A shell command shown in a doc, the output shown after it, and where."""

    block: Block
    line: int
    text: str
    output: list[str]


def commands(block: Block) -> list[Command]:
    """Commands of a shell block: ``$ ``-prompted lines (console) or every line (bash)."""
    cmds: list[Command] = []
    if block.lang == "console":
        for k, line in enumerate(block.lines):
            if line.startswith("$ "):
                cmds.append(Command(block, block.line + k, line[2:].strip(), []))
            elif cmds:
                cmds[-1].output.append(line)
        for c in cmds:
            while c.output and not c.output[-1].strip():
                c.output.pop()
        return cmds
    for k, line in enumerate(block.lines):
        text = re.sub(r"\s+#\s.*$", "", line).strip()  # "cmd   # comment"
        if text and not text.startswith("#"):
            cmds.append(Command(block, block.line + k, text, []))
    return cmds


SHELL_LANGS = {"bash", "console", "sh", "shell"}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of ``path`` (repeated headings get GitHub's -1, -2 suffixes)."""
    seen: dict[str, int] = {}
    out = set()
    for line in prose(path).split("\n"):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


# What varies from run to run, replaced on both sides before the docs' output is compared with
# the program's: durations, tour lengths and bounds, percentages, ids of jobs and nodes, and
# whether the bound was proven in its time (on a busy machine the exact evaluation of a
# 1,000-node bound may not fit, and the summary then honestly says "estimated"; tests/unit
# test_result.py checks both wordings). Other phrases ("proven optimal", column headers) and
# fixed numbers (n, optima, bounding boxes) are compared as they are.
NORMALISE = (
    (re.compile(r"at most \S+ above optimal \(proven lower bound \S+\)"
                r"|\S+ above estimated lower bound \S+ \(not proven\)"), "<bound claim>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{12}\b"), "<job>"),                     # job ids
    (re.compile(r"\bvm-\d+\b"), "<node>"),                          # default coordinator ids
    (re.compile(r"-?\d+(?:\.\d+)? ?%"), "<pct>%"),                     # gaps
    (re.compile(r"\b\d+(?:\.\d+)? ?s\b"), "<s>"),                      # durations
    (re.compile(r"\b(length|lower bound|best|bound) \d+(?:\.\d+)?"), r"\1 <len>"),
)
# Keys of a JSON result whose values vary (compared by type); other keys by value.
VARYING_JSON_KEYS = {"tour", "trace", "length", "time_to_best", "elapsed", "seed", "engine",
                     "lower_bound", "gap_bound_pct", "gap_pct", "lower_bound_proven",
                     "proven_optimal"}


def normalise(line: str) -> str:
    """``line`` with what varies between runs replaced by placeholders (see NORMALISE); a JSON
    object line becomes its keys in order, values of VARYING_JSON_KEYS as their type (``stats``
    as its keys). A doc may shorten a JSON list as ``[1, 2, ...]``."""
    line = line.rstrip()
    if line.startswith("{"):
        try:
            data = json.loads(re.sub(r",\s*\.\.\.\s*\]", "]", line))
        except json.JSONDecodeError:
            return line
        return json.dumps(_json_shape(data))
    for pattern, placeholder in NORMALISE:
        line = pattern.sub(placeholder, line)
    return line


def _json_shape(data: dict) -> dict:
    shape: dict = {}
    for key, value in data.items():
        if key == "stats" and isinstance(value, dict):
            shape[key] = sorted(value)
        elif key in VARYING_JSON_KEYS:
            shape[key] = type(value).__name__ if value is not None else "null"
        else:
            shape[key] = value
    return shape


# On a cluster, more varies: rounds, worker counts and ages, host names, the progress bar. So
# every number becomes <n> and runs of spaces one space (table columns move with the numbers);
# words, column headers, statuses and the shape of names (vm-<pid>, celery@host) still count.
CLUSTER_NORMALISE = (
    (re.compile(r"\[[#-]+\]"), "[bar]"),
    (re.compile(r"celery@\S+"), "celery@<host>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{12}\b"), "<job>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def normalise_cluster(line: str) -> str:
    """``line`` of a cluster command's output with what varies on a cluster replaced."""
    line = line.strip()
    for pattern, placeholder in CLUSTER_NORMALISE:
        line = pattern.sub(placeholder, line)
    return line


def stable_id(value: object) -> str:
    """A parametrized test's id that is the same in every process (pytest-xdist's workers must
    collect the same ids): text only, no object addresses, sets in sorted order."""
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    return str(value)[:60] if value is None or isinstance(value, (str, list)) else "-"
