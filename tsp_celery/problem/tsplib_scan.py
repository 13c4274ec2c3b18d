"""Splitting TSPLIB text (instances and tours) into header entries and numeric sections.

A TSPLIB file is ``KEY : value`` lines (any order, keys in any case, with or without spaces
around the colon; a known key may also be followed by its value without a colon, as LKH allows),
then sections (``NODE_COORD_SECTION`` ...) whose numbers run until the next keyword line, and an
optional ``EOF``. COMMENT may repeat (the lines are joined); any other repeated key is an error.
Keys and sections TSPLIB does not define are kept aside with a warning naming the nearest known
one. Only keyword lines are visited one by one; a section's numbers are converted by numpy in one
call, so a 100,000-node file parses in milliseconds. Every error names the file and line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from tsp_celery.errors import InstanceError

# A keyword line: a bare word, optionally followed by ':' (group 2) or blanks, and a value
# (group 3). Numeric lines never match.
_KEYWORD = re.compile(
    r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)(?:[ \t]*(:)[ \t]*(.*?)|[ \t]+(\S.*?))?[ \t\r]*$", re.M
)
# The header keys and sections TSPLIB 95 defines (Reinelt 1995, section 1.1-1.2).
KNOWN_KEYS = frozenset({
    "NAME", "TYPE", "COMMENT", "DIMENSION", "CAPACITY", "EDGE_WEIGHT_TYPE", "EDGE_WEIGHT_FORMAT",
    "EDGE_DATA_FORMAT", "NODE_COORD_TYPE", "DISPLAY_DATA_TYPE",
})
KNOWN_SECTIONS = frozenset({
    "NODE_COORD_SECTION", "DEPOT_SECTION", "DEMAND_SECTION", "EDGE_DATA_SECTION",
    "FIXED_EDGES_SECTION", "DISPLAY_DATA_SECTION", "TOUR_SECTION", "EDGE_WEIGHT_SECTION",
})
# Words a numeric line may consist of that are numbers to float(), not keywords.
_NUMBER_WORDS = {"NAN", "INF", "INFINITY"}
_NON_BLANK_LINE = re.compile(r"^[ \t\r]*\S", re.M)


def is_number(token: str) -> bool:
    """True when float() reads ``token`` (so 'nan' and '1e5' are numbers)."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def _quote(line: str) -> str:
    line = line.strip()
    return repr(line if len(line) <= 40 else line[:37] + "...")


@dataclass(frozen=True)
class Entry:
    """A header value and the line it was given on."""

    value: str
    line: int


@dataclass(frozen=True)
class Section:
    """The text of a data section: from the line after its keyword up to the next keyword."""

    name: str
    body: str
    line: int  # file line number of the body's first line
    path: str | None

    def error(self, message: str, line: int | None = None) -> InstanceError:
        return InstanceError(message, self.path, self.line - 1 if line is None else line)

    def _body_lines(self) -> Iterator[tuple[int, str]]:
        """(file line number, text) of each non-blank body line."""
        for k, text in enumerate(self.body.split("\n")):
            if text.strip():
                yield self.line + k, text

    def line_of_row(self, row: int) -> int:
        """File line of the row-th non-blank body line (0-based)."""
        for k, (line, _) in enumerate(self._body_lines()):
            if k == row:
                return line
        return self.line

    def line_of_token(self, index: int) -> int:
        """File line holding the index-th number of the body (0-based)."""
        seen = 0
        for line, text in self._body_lines():
            seen += len(text.split())
            if seen > index:
                return line
        return self.line

    def numbers(self) -> np.ndarray:
        """All numbers of the body as float64, or an error at the first one that is not."""
        tokens = self.body.split()
        try:
            return np.fromiter(map(float, tokens), dtype=np.float64, count=len(tokens))
        except ValueError:
            k = next(i for i, token in enumerate(tokens) if not is_number(token))
            raise self.error(
                f"{self.name}: {tokens[k]!r} is not a number", self.line_of_token(k)
            ) from None

    def rows(self, columns: int, what: str) -> np.ndarray:
        """One row of exactly ``columns`` numbers per non-blank line; ``what`` names them."""
        values = self.numbers()
        n_rows = len(_NON_BLANK_LINE.findall(self.body))
        if values.size != n_rows * columns:
            for line, text in self._body_lines():
                if len(text.split()) != columns:
                    raise self.error(
                        f"{self.name}: expected {columns} numbers ({what}) per line, "
                        f"got {len(text.split())}: {_quote(text)}",
                        line,
                    )
        return values.reshape(n_rows, columns)


def nearest(word: str, known: frozenset[str]) -> str | None:
    """The known keyword ``word`` is most likely a misspelling of, if any is close."""
    match = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.75)
    return match[0] if match else None


def _unknown(word: str) -> str:
    return f"unknown section {word}" if word.endswith("_SECTION") else f"unknown key {word}"


def _did_you_mean(word: str, known: frozenset[str]) -> str:
    guess = nearest(word, known)
    return f" (did you mean {guess}?)" if guess else ""


@dataclass
class Scan:
    """Header entries (upper-cased keys) and sections of one TSPLIB text, the keywords it does
    not know (word -> line) and the warnings met on the way ("line N: ...")."""

    path: str | None
    keys: dict[str, Entry] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def error(self, message: str, key: str | None = None) -> InstanceError:
        """An error naming the file and, when given, the line of header ``key``."""
        entry = self.keys.get(key) if key else None
        return InstanceError(message, self.path, entry.line if entry else None)

    def missing(self, keyword: str, message: str) -> InstanceError:
        """The error for a missing ``keyword``, pointing at an unknown one that looks like it."""
        for word, line in self.unknown.items():
            if nearest(word, KNOWN_KEYS | KNOWN_SECTIONS) == keyword:
                return InstanceError(
                    f"{message}; {_unknown(word)} here: did you mean {keyword}?",
                    self.path, line)
        return InstanceError(message, self.path)

    def unknown_word(self, word: str, line: int, known: frozenset[str]) -> None:
        """Keep aside a key or section TSPLIB does not define, with a warning."""
        self.unknown[word] = line
        self.warn(line, f"{_unknown(word)}{_did_you_mean(word, known)}, ignored")

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(f"line {line}: {message}")

    def value(self, key: str) -> str | None:
        entry = self.keys.get(key)
        return entry.value if entry else None


def scan(text: str, path: str | None = None) -> Scan:
    """Split ``text`` (LF line ends, see ``textfile.normalize_text``) into header entries and
    sections; refuse lines that are neither."""
    out = Scan(path)
    pos, line = 0, 1  # end of the previous keyword line, and the line number at ``pos``
    open_section: tuple[str, int] | None = None  # name, first body line
    for m in _KEYWORD.finditer(text):
        word, colon = m.group(1).upper(), m.group(2)
        value = m.group(3) if colon else m.group(4)
        if not colon and (word in _NUMBER_WORDS or (value is not None and word not in KNOWN_KEYS)):
            continue  # a numeric line ("inf 3 4") or text that no keyword starts: data, or wrong
        gap = text[pos : m.start()]
        _close(out, open_section, gap, line)
        open_section = None
        pos, line = m.end(), line + gap.count("\n")
        if word == "EOF":
            return out
        if word.endswith("_SECTION"):
            open_section = _open_section(out, word, value, line)
        elif value is None:
            raise InstanceError(
                f"expected 'KEY: value', got {_quote(word)}"
                f"{_did_you_mean(word, KNOWN_KEYS | KNOWN_SECTIONS)}", path, line)
        else:
            _add_key(out, word, value.strip(), line)
    _close(out, open_section, text[pos:], line)
    return out


def _open_section(out: Scan, word: str, value: str | None, line: int) -> tuple[str, int]:
    if value:
        raise InstanceError(f"unexpected text after {word}: {_quote(value)}", out.path, line)
    if word in out.sections:
        raise InstanceError(f"{word} appears twice", out.path, line)
    if word not in KNOWN_SECTIONS:
        out.unknown_word(word, line, KNOWN_SECTIONS)
    return word, line + 1


def _add_key(out: Scan, word: str, value: str, line: int) -> None:
    if word == "COMMENT" and word in out.keys:  # national instances spread it over many lines
        first = out.keys[word]
        out.keys[word] = Entry(f"{first.value} {value}".strip(), first.line)
    elif word in out.keys:
        raise InstanceError(f"{word} is given twice", out.path, line)
    else:
        out.keys[word] = Entry(value, line)
        if word not in KNOWN_KEYS:
            out.unknown_word(word, line, KNOWN_KEYS)


def _close(out: Scan, open_section: tuple[str, int] | None, gap: str, line: int) -> None:
    """Store ``gap`` as the open section's body, or refuse it if it is not blank.

    ``gap`` starts at the end of the keyword line numbered ``line`` (or at the file's start).
    """
    if open_section is not None:
        name, body_line = open_section
        body = gap[1:] if gap.startswith("\n") else gap
        out.sections[name] = Section(name, body, body_line, out.path)
        return
    for k, text in enumerate(gap.split("\n")):
        if text.strip():
            raise InstanceError(
                f"unexpected line {_quote(text)} (expected 'KEY: value' or a *_SECTION keyword)",
                out.path,
                line + k,
            )
