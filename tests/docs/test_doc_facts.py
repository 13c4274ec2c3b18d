"""What the docs state about the product is what the product does: commands and options exist,
the error messages quoted are ones the code prints, the module map is the real tree."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import click
import pytest
from doc_helpers import ROOT, blocks, code_spans, doc_id, doc_paths, prose, stable_id

from tsp_celery.cli import cli

# `tsp-celery CMD` at a command position: not `kubectl -n tsp-celery`, not `tsp-celery-worker`.
# The options are what follows up to a pipe, ';', '&&', a comment, a redirection or ' / '.
COMMAND = re.compile(r"(?<!-n )(?<![\w/.-])tsp-celery ([a-z][\w-]*)((?:(?! / )[^|;&#>\n])*)")


def code_text(path: Path) -> list[str]:
    """Every line of code in a doc: fenced block lines and inline code spans."""
    lines = [line for b in blocks(path) for line in b.lines]
    return lines + code_spans(prose(path))


def cli_uses() -> list[tuple[str, str, set[str]]]:
    """(doc, command, --options) of every ``tsp-celery`` command line in the docs' code."""
    out = []
    for path in doc_paths():
        for line in code_text(path):
            for cmd, rest in COMMAND.findall(line):
                group, words = cli.commands.get(cmd), rest.split()
                if isinstance(group, click.Group) and words and words[0] in group.commands:
                    cmd = f"{cmd} {words[0]}"  # a subcommand: `tsp-celery tokens create`
                out.append((doc_id(path), cmd, set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", rest))))
    return out


def test_the_docs_use_many_commands():
    assert {cmd.split()[0] for _, cmd, _ in cli_uses()} >= {
        "solve", "info", "evaluate", "generate", "submit", "watch", "result", "status", "jobs",
        "workers", "cancel", "events", "cluster", "coordinator", "health"}


@pytest.mark.parametrize("doc,cmd,options", cli_uses(), ids=stable_id)
def test_documented_commands_and_options_exist(doc, cmd, options):
    command: click.Command = cli
    for word in cmd.split():
        assert word in command.commands, f"{doc}: no command `tsp-celery {cmd}`"
        command = command.commands[word]
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    assert options <= known, f"{doc}: `tsp-celery {cmd}` has no {sorted(options - known)}"


# -- error messages -------------------------------------------------------------------------------
PLACEHOLDER = "\x00"


def _strings(node: ast.AST) -> list[str]:
    """String literals of a module; f-strings with their replacement fields as PLACEHOLDER."""
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.JoinedStr):
            out.append("".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER
                               for v in n.values))
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.append(n.value)
    return out


@functools.cache
def source_strings() -> str:
    files = [*(ROOT / "tsp_celery").rglob("*.py"), *(ROOT / "tasks").glob("*.py")]
    return PLACEHOLDER.join(s for f in files for s in _strings(ast.parse(f.read_text())))


def documented_messages() -> list[str]:
    """First-column code spans of the table between <!-- messages --> and <!-- /messages -->."""
    text = (ROOT / "docs" / "user-guide.md").read_text(encoding="utf-8")
    table = text.split("<!-- messages -->", 1)[1].split("<!-- /messages -->", 1)[0]
    rows = [r for r in table.strip().split("\n")[2:] if r.startswith("|")]
    return [span for r in rows for span in code_spans(r.split(" | ")[0])]


# Values the code fills in, which the docs may show as they appear: TSPLIB section and key
# names, numbers.
_VALUE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|[-+]?\d[\d.e+]*")


def chunks(message: str) -> list[str]:
    """The fixed parts of a documented message: split at '…' (a quoted '…' included)."""
    return [c for c in re.split(r"'…'|…", message) if c.strip()]


def in_sources(chunk: str, corpus: str) -> bool:
    if chunk in corpus:
        return True
    pieces = [p.strip(" ,;:.()'") for p in _VALUE.split(chunk)]
    return all(p in corpus for p in pieces if len(p) >= 3)


def test_the_message_table_is_long():
    assert len(documented_messages()) >= 40


@pytest.mark.parametrize("message", documented_messages())
def test_documented_messages_are_printed_by_the_code(message):
    corpus = source_strings()
    missing = [c for c in chunks(message) if not in_sources(c, corpus)]
    assert not missing, f"not in the code: {missing}"


def test_message_check_refuses_invented_text():
    corpus = source_strings()
    assert not all(in_sources(c, corpus) for c in chunks("the instance is too pretty: …"))


# -- module map -----------------------------------------------------------------------------------
def modules() -> set[str]:
    files = [*(ROOT / "tsp_celery").rglob("*.py"), *(ROOT / "tasks").glob("*.py")]
    return {str(f.relative_to(ROOT)) for f in files if f.name != "__init__.py"}


def test_module_map_is_the_real_tree():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Module map", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`((?:tsp_celery|tasks)/[\w/]+\.py)`", section))
    assert modules() - listed == set(), "modules missing from the map (regenerate it)"
    assert listed - modules() == set(), "the map lists modules that do not exist"
