"""Pictures: the tour drawn over the points, and the best length over time.

matplotlib is an optional extra (``pip install tsp-celery[plot]``); it is imported only here, on
first use. Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no backend or
global state is touched (a notebook's inline backend stays as it was; servers need no display).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tsp_celery.errors import OptionalDependencyError, TspCeleryError
from tsp_celery.problem import Problem

if TYPE_CHECKING:
    from tsp_celery.result import Result
from tsp_celery.lengths import bound_text, length_text

FORMATS = (".png", ".svg")


def picture_format(path: str | os.PathLike[str]) -> str:
    """The picture format a path asks for, or ValueError naming the ones we draw."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ValueError(f"Expected a picture file ending in .png or .svg, got {str(path)!r}.")
    return ext


def plot_tour(result: Result, problem: Problem, path: str | os.PathLike[str]) -> Path:
    """Draw the closed tour over the instance's points and save it to ``path`` (.png or .svg)."""
    picture_format(path)
    coords = problem.plot_coords
    if coords is None:
        raise TspCeleryError(
            f"{problem.name} has no coordinates (explicit distance matrix): no tour picture "
            "can be drawn; write the tour with --out instead"
        )
    xy = coords[np.append(result.tour, result.tour[0])]
    size = 8.0 if problem.n > 2000 else 6.0
    fig = _figure((size, size))
    ax = fig.subplots()
    ax.plot(xy[:, 0], xy[:, 1], "-", color="tab:blue", linewidth=0.4 if problem.n > 2000 else 0.9)
    ax.scatter(coords[:, 0], coords[:, 1], s=max(0.5, 12.0 - problem.n / 100), color="black",
               zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(_title(result))
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def plot_trace(result: Result, path: str | os.PathLike[str]) -> Path:
    """Plot the best length over time (a step line), with the optimum line when known."""
    picture_format(path)
    return _save(trace_figure(result), path)


def trace_figure(result: Result) -> Any:
    """The figure ``plot_trace`` saves. Its legend sits below the axes: inside, it hid the end
    of the curve, where a long run's last improvements are (pla85900 after 450 s)."""
    fig = _figure((7.0, 4.0))
    ax = fig.subplots()
    points = result.trace or [(result.time_to_best, result.length)]
    times = [t for t, _ in points] + [max(result.elapsed, points[-1][0])]
    lengths = [v for _, v in points] + [points[-1][1]]
    ax.step(times, lengths, where="post", color="tab:blue", label="best tour")
    ax.plot(times[:-1], lengths[:-1], "o", color="tab:blue", markersize=3)
    if result.optimum:
        ax.axhline(result.optimum, color="tab:green", linestyle="--",
                   label=f"optimum {length_text(result.optimum)}")
    if result.lower_bound:
        ax.axhline(result.lower_bound, color="tab:red", linestyle=":",
                   label=bound_text(result.lower_bound, result.lower_bound_proven,
                                    result.length))
    ax.set_xlabel("seconds")
    ax.set_ylabel("tour length")
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)  # 50884000, not 5.088e7
    ax.set_title(_title(result))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, frameon=False)
    ax.grid(True, alpha=0.3)
    return fig


def _title(result: Result) -> str:
    title = f"{result.name or 'tour'}: {length_text(result.length)}"
    if result.proven_optimal:
        title += " (proven optimal)"
    elif result.gap_pct is not None:
        title += f" ({result.gap_pct:.3f}% above optimum)"
    return title


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    try:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    except OSError as exc:
        raise TspCeleryError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return Path(path)


def require_matplotlib() -> None:
    """Raise OptionalDependencyError (with the install command) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise OptionalDependencyError(
            "pictures need matplotlib: pip install -e '.[plot]' in a checkout"
        ) from exc


def _figure(size: tuple[float, float]) -> Any:
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=size)
