"""The live progress line of ``solve``: what a user watching a terminal sees."""

from __future__ import annotations

import io

from tsp_celery.cli.progress import ProgressLine


def _line(events: list[dict], **kw) -> str:
    out = io.StringIO()
    progress = ProgressLine(60, stream=out, enabled=True, **kw)
    for event in events:
        progress(event)
    return out.getvalue().split("\r")[-1].rstrip()


def test_the_partition_of_a_first_tour_shows_part_by_part():
    seen = _line([{"event": "initial", "best_length": None, "elapsed": 21.34, "parts_done": 2,
                   "parts": 3}])
    assert seen == "first tour: 2/3 parts  21.3s/60s"


def test_a_tour_shows_its_length_gap_bound_and_round():
    seen = _line([{"event": "initial", "best_length": None, "elapsed": 1.0, "parts_done": 1,
                   "parts": 3},
                  {"event": "round", "best_length": 1010, "elapsed": 42.0, "round": 4,
                   "lower_bound": 1000.0}], optimum=1000)
    assert seen == "best 1010  gap 1.000%  bound 1000 (≤1.00%)  round 4  42.0s/60s"


def test_nothing_before_a_tour_or_a_part_and_nothing_off_a_terminal():
    assert _line([{"event": "round", "best_length": None, "elapsed": 1.0}]) == ""
    out = io.StringIO()  # StringIO is no terminal: the default is silence
    ProgressLine(60, stream=out)({"best_length": 5, "elapsed": 1.0})
    assert out.getvalue() == ""
