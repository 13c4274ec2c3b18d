"""Pictures are real PNG/SVG files of some size; explicit instances get a clear refusal."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tsp_celery.errors import TspCeleryError
from tsp_celery.plot import plot_tour, plot_trace, trace_figure
from tsp_celery.problem import Problem, load_problem
from tsp_celery.result import Result

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def solved(examples_dir):
    problem = load_problem(examples_dir / "berlin52.tsp")
    tour = np.arange(problem.n)
    length = problem.tour_length(tour)
    result = Result(tour=tour, length=length, name=problem.name, optimum=7542, elapsed=3.0,
                    trace=[(0.2, length * 1.2), (1.5, length)], lower_bound=7000.0)
    return problem, result


@pytest.mark.parametrize("ext", [".png", ".svg"])
def test_tour_picture(tmp_path, solved, ext):
    problem, result = solved
    path = plot_tour(result, problem, tmp_path / f"tour{ext}")
    data = path.read_bytes()
    assert len(data) > 10_000
    if ext == ".png":
        assert data.startswith(PNG_MAGIC)
    else:
        assert b"<svg" in data[:1000]
        assert data.count(b"<path") > 1


def test_trace_picture(tmp_path, solved):
    _, result = solved
    data = plot_trace(result, tmp_path / "trace.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_the_trace_legend_never_hides_the_curve(solved):
    _, result = solved
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = trace_figure(result)
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 <= ax.get_window_extent(renderer).y0  # below the axes, not over the lines
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "best tour", "optimum 7542", "estimated lower bound 7000"]


def test_matrix_instance_has_no_tour_picture(tmp_path):
    problem = Problem.from_matrix(np.ones((4, 4)) - np.eye(4))
    result = Result(tour=[0, 1, 2, 3], length=4)
    with pytest.raises(TspCeleryError, match="no coordinates"):
        plot_tour(result, problem, tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()


def test_picture_extension_checked(tmp_path, solved):
    problem, result = solved
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        plot_tour(result, problem, tmp_path / "tour.jpg")


def _svg_text(draw, tmp_path) -> str:
    """The text a reader sees in the drawn SVG (not its markup: element ids are random hashes,
    which may well contain '1e7')."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text in the SVG
        svg = draw(tmp_path / "p.svg").read_text()
    return "\n".join(re.findall(r"<text\b[^>]*>(.*?)</text>", svg, re.S))


def test_large_lengths_print_as_integers_and_the_bound_says_what_it_is(tmp_path):
    result = Result(tour=[0, 1, 2], length=50884023, name="u5000", elapsed=9.0,
                    trace=[(1.0, 51234567), (8.0, 50884023)], lower_bound=50473213.53)
    svg = _svg_text(lambda p: plot_trace(result, p), tmp_path)
    assert "u5000: 50884023" in svg
    assert "estimated lower bound 50473213" in svg and "50473213.53" not in svg
    assert "e+07" not in svg and "1e7" not in svg
    result.lower_bound_proven, result.lower_bound = True, 50500000.0
    assert "proven lower bound 50500000" in _svg_text(lambda p: plot_trace(result, p), tmp_path)
