"""Options shared by several commands, spelled once so that ``solve`` and ``submit`` agree, and
the numeric option type every command uses, so that ``--time nan``, ``--priority 1e400`` or a
negative count is a usage error naming the option, the range and an example (exit 2).
"""

from __future__ import annotations

import math

import click

# An embedded budget longer than this is a typo (and beyond what timers accept).
MAX_SECONDS = 10_000_000
# Cluster priorities: the queue scores jobs by now - priority * 1e10, which keeps jobs of one
# priority in submission order (to a few milliseconds) within this range.
MAX_PRIORITY = 1000
MAX_SEED = 2**32 - 1


class Bounded(click.ParamType):
    """A finite number (a whole one when ``whole``) within [low, high]; ``low`` itself is
    excluded when ``above``. ``unit`` and ``example`` make the error say what fits."""

    def __init__(self, low: float, high: float | None = None, *, whole: bool = True,
                 above: bool = False, unit: str = "", example: str = "") -> None:
        self.low, self.high, self.whole, self.above = low, high, whole, above
        self.unit, self.example = unit, example
        self.name = "integer" if whole else "number"

    def requirement(self) -> str:
        """What a valid value is, e.g. 'a whole number from 1 to 1024' or '> 0 seconds'."""
        low, high = _show(self.low), _show(self.high) if self.high is not None else ""
        if self.above:
            bounds = f"> {low}" + (f" and <= {high}" if high else "")
        else:
            bounds = f"from {low} to {high}" if high else f">= {low}"
        kind = "a whole number " if self.whole else ""
        return f"{kind}{bounds}{' ' + self.unit if self.unit else ''}"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> int | float:
        text = str(value).strip()
        number: int | float | None
        try:
            number = value if isinstance(value, (int, float)) else (
                int(text) if self.whole else float(text))
        except ValueError:
            number = None
        if number is None or not self._fits(number):
            example = f"; e.g. {param.opts[0]} {self.example}" if param and self.example else ""
            self.fail(f"must be {self.requirement()}, got {text!r}{example}", param, ctx)
        return number

    def _fits(self, number: float) -> bool:
        if not self.whole and not math.isfinite(number):  # ints have no NaN; huge ones compare
            return False
        above_low = number > self.low if self.above else number >= self.low
        return above_low and (self.high is None or number <= self.high)


def _show(bound: float) -> str:
    return f"{int(bound):,}" if bound == int(bound) else f"{bound:g}"


def seconds(example: str, low: float = 0, high: float = MAX_SECONDS) -> Bounded:
    """A duration in seconds, > ``low`` (or >= it when ``low`` is positive)."""
    return Bounded(low, high, whole=False, above=low == 0, unit="seconds", example=example)


def count(low: int, high: int, example: str) -> Bounded:
    """A whole number from ``low`` to ``high``."""
    return Bounded(low, high, example=example)


TARGET = Bounded(0, None, whole=False, above=True, unit="(a tour length)", example="7542")
SEED = count(0, MAX_SEED, "42")
PRIORITY = count(-MAX_PRIORITY, MAX_PRIORITY, "10")

merge_option = click.option(
    "--merge/--no-merge", default=True, show_default=True,
    help="merge each round's tours with the best ones found so far (partition crossover); "
         "--no-merge keeps the shortest run as is, to measure what merging adds")

stall_option = click.option(
    "--stall-rounds", type=count(1, 1_000_000, "5"), default=None,
    help="Stop after this many rounds without improvement.")
