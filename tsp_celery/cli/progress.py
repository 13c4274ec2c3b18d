"""The live progress line of ``solve``: one carriage-return line on stderr, only on a terminal.

It shows what happens from the first second (reading, starting workers, first tour, round N
running) and the elapsed time ticks even while a round runs: a SIGALRM interval timer redraws
it, so no thread exists when the embedded engine forks its workers (see local_workers).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from tsp_celery.lengths import bound_number, length_text

TICK_S = 0.25


class ProgressLine:
    """Renders progress dicts of the embedded engine (event, phase, best_length, round,
    lower_bound, lower_bound_proven) or cluster job statuses (status, best_length, round).

    Silent when the stream is not a terminal, so pipes and log files get only the result.
    """

    def __init__(self, budget_s: float, optimum: float | None = None,
                 stream: TextIO | None = None, enabled: bool | None = None,
                 tick_s: float = TICK_S):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.budget_s, self.optimum, self.tick_s = budget_s, optimum, tick_s
        self.started = time.monotonic()
        self.phase = "starting"
        self.numbers = ""
        self._width = 0
        self._drawing = False
        self._ticking = False

    def start(self, phase: str) -> None:
        """Draw ``phase`` now and redraw every ``tick_s`` until ``close`` (main thread only)."""
        self.phase = phase
        self._draw()
        if (self.enabled and hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread()):
            signal.signal(signal.SIGALRM, lambda _sig, _frame: self._draw())
            signal.setitimer(signal.ITIMER_REAL, self.tick_s, self.tick_s)
            self._ticking = True

    def restart_clock(self, phase: str) -> None:
        """The budget counts from here (after reading the file): elapsed starts again at 0."""
        self.started = time.monotonic()
        self.phase = phase
        self._draw()

    def __call__(self, p: Mapping[str, Any]) -> None:
        if "status" in p:  # a cluster job's status
            self.phase = ("queued" if p["status"] == "queued"
                          else f"round {p['round']} {p['status']}")
        elif p.get("phase"):
            self.phase = p["phase"]
        elif p.get("event") == "round" and p.get("round") is not None:
            self.phase = f"round {p['round']} done"
        elif p.get("parts"):  # a partition first tour, part by part
            self.phase = f"first tour: {p['parts_done']}/{p['parts']} parts"
        if p.get("best_length") is not None:
            self.numbers = self._numbers(p)
        if p.get("elapsed") is not None and p.get("status") != "queued":
            self.started = time.monotonic() - float(p["elapsed"])  # the budget's own clock
        self._draw()

    def note(self, text: str) -> None:
        """``text`` on a line of its own, also when not on a terminal; the progress line is
        redrawn below it."""
        self._drawing = True  # no tick in between
        try:
            if self.enabled and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
            self.stream.write(text + "\n")
            self.stream.flush()
            self._width = 0
        finally:
            self._drawing = False
        self._draw()

    def _numbers(self, p: Mapping[str, Any]) -> str:
        best = float(p["best_length"])
        parts = [f"best {length_text(best)}"]
        if self.optimum:
            parts.append(f"gap {100.0 * (best - self.optimum) / self.optimum:.3f}%")
        lb = p.get("lower_bound")
        if lb:
            gap = 100.0 * (best - lb) / lb
            if p.get("lower_bound_proven"):
                parts.append(f"bound {bound_number(lb, True, best)} (≤{gap:.2f}%)")
            else:
                parts.append(f"est. bound {bound_number(lb, False, best)} ({gap:.2f}%)")
        return "  ".join(parts)

    def _draw(self) -> None:
        if not self.enabled or self._drawing:  # a tick during a draw skips, never nests
            return
        self._drawing = True
        try:
            elapsed = time.monotonic() - self.started
            clock = (f"{elapsed:.1f}s in the queue" if self.phase == "queued"
                     else f"{elapsed:.1f}s/{self.budget_s:g}s")
            line = "  ".join(filter(None, [self.phase, self.numbers, clock]))
            self.stream.write("\r" + line.ljust(self._width))
            self.stream.flush()
            self._width = len(line)
        finally:
            self._drawing = False

    def close(self) -> None:
        """Stop ticking and end the line so the next output starts on its own."""
        if self._ticking:
            signal.setitimer(signal.ITIMER_REAL, 0, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            self._ticking = False
        if self.enabled and self._width:
            with contextlib.suppress(OSError, ValueError):
                self.stream.write("\n")
                self.stream.flush()
            self._width = 0
