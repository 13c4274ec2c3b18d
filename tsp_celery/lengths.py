"""Lengths and bounds as people read them, shared by the result, the plot and the progress line."""

from __future__ import annotations

import math


def bound_text(value: float, proven: bool, length: float) -> str:
    """'proven lower bound 50500' or 'estimated lower bound 50473213'."""
    kind = "proven" if proven else "estimated"
    return f"{kind} lower bound {bound_number(value, proven, length)}"


def bound_number(value: float, proven: bool, length: float) -> str:
    """A bound of an integral tour (whole ``length``) shows whole: rounded up only when proven,
    an estimate rounded down, so that it never reads stronger than it is."""
    if float(length).is_integer():
        return str(math.ceil(value - 1e-9) if proven else math.floor(value))
    return f"{value:.3f}"


def length_text(v: float | None) -> str:
    """A length as people write it: whole numbers without exponent or '.0', else 3 decimals."""
    if v is None:
        return "-"
    return str(int(v)) if float(v).is_integer() else f"{v:.3f}"


def plain_number(v: float) -> int | float:
    """A whole float as an int (so text shows 7542, not 7542.0)."""
    return int(v) if float(v).is_integer() else float(v)
