"""The live progress line of ``solve``: one carriage-return line on stderr, only on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO


def _fmt(v: float) -> str:
    return f"{int(v)}" if float(v).is_integer() else f"{v:.2f}"


class ProgressLine:
    """Renders progress dicts (best_length, elapsed, round, lower_bound; local or cluster).

    Silent when the stream is not a terminal, so pipes and log files get only the result.
    """

    def __init__(self, budget_s: float, optimum: float | None = None,
                 stream: TextIO | None = None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.budget_s, self.optimum = budget_s, optimum
        self._width = 0

    def __call__(self, p: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        if p.get("best_length") is None:
            if p.get("parts"):  # a partition first tour, part by part
                self._write(f"first tour: {p['parts_done']}/{p['parts']} parts", p)
            return
        best = float(p["best_length"])
        parts = [f"best {_fmt(best)}"]
        if self.optimum:
            parts.append(f"gap {100.0 * (best - self.optimum) / self.optimum:.3f}%")
        lb = p.get("lower_bound")
        if lb:
            parts.append(f"bound {_fmt(float(lb))} (≤{100.0 * (best - lb) / lb:.2f}%)")
        if p.get("round") is not None:
            parts.append(f"round {p['round']}")
        self._write("  ".join(parts), p)

    def _write(self, text: str, p: Mapping[str, Any]) -> None:
        line = f"{text}  {float(p.get('elapsed') or 0.0):.1f}s/{self.budget_s:g}s"
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        """End the line so the next output starts on its own."""
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()
