"""Splitting TSPLIB text (instances and tours) into header entries and numeric sections.

A TSPLIB file is ``KEY : value`` lines (any order, with or without spaces around the colon),
then sections (``NODE_COORD_SECTION`` ...) whose numbers run until the next keyword line, and an
optional ``EOF``. Only keyword lines are visited one by one; a section's numbers are converted
by numpy in one call, so a 100,000-node file parses in milliseconds. Every error names the file
and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from tsp_celery.errors import InstanceError

# A keyword line: a bare word, optionally followed by ':' and a value. Numeric lines never match.
_KEYWORD = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[ \t]*(.*?))?[ \t\r]*$", re.M)
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


@dataclass
class Scan:
    """Header entries (upper-cased keys) and sections of one TSPLIB text."""

    path: str | None
    keys: dict[str, Entry] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)

    def error(self, message: str, key: str | None = None) -> InstanceError:
        """An error naming the file and, when given, the line of header ``key``."""
        entry = self.keys.get(key) if key else None
        return InstanceError(message, self.path, entry.line if entry else None)

    def value(self, key: str) -> str | None:
        entry = self.keys.get(key)
        return entry.value if entry else None


def scan(text: str, path: str | None = None) -> Scan:
    """Split ``text`` into header entries and sections; refuse lines that are neither."""
    out = Scan(path)
    pos, line = 0, 1  # end of the previous keyword line, and the line number at ``pos``
    open_section: tuple[str, int] | None = None  # name, first body line
    for m in _KEYWORD.finditer(text):
        word, value = m.group(1).upper(), m.group(2)
        if value is None and word in _NUMBER_WORDS:
            continue
        gap = text[pos : m.start()]
        _close(out, open_section, gap, line)
        open_section = None
        pos, line = m.end(), line + gap.count("\n")
        if word == "EOF":
            return out
        if word.endswith("_SECTION"):
            if value:
                raise InstanceError(f"unexpected text after {word}: {_quote(value)}", path, line)
            if word in out.sections:
                raise InstanceError(f"{word} appears twice", path, line)
            open_section = (word, line + 1)
        elif value is None:
            raise InstanceError(f"expected 'KEY: value', got {_quote(word)}", path, line)
        elif word in out.keys:
            raise InstanceError(f"{word} is given twice", path, line)
        else:
            out.keys[word] = Entry(value.strip(), line)
    _close(out, open_section, text[pos:], line)
    return out


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
