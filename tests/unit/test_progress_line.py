"""The live progress line of ``solve``: what a user watching a terminal sees."""

from __future__ import annotations

import io
import time

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


def test_a_tour_shows_its_length_gap_proven_bound_and_round():
    seen = _line([{"event": "phase", "phase": "round 4 running: 2 island units",
                   "best_length": None, "elapsed": 40.0, "round": 4},
                  {"event": "round", "best_length": 1010, "elapsed": 42.0, "round": 4,
                   "lower_bound": 1000.0, "lower_bound_proven": True}], optimum=1000)
    assert seen == "round 4 done  best 1010  gap 1.000%  bound 1000 (≤1.00%)  42.0s/60s"


def test_an_estimated_bound_says_so_and_claims_no_maximum():
    seen = _line([{"event": "round", "best_length": 50889023, "elapsed": 9.2, "round": 0,
                   "lower_bound": 50491111.86, "lower_bound_proven": False}])
    assert seen == "round 0 done  best 50889023  est. bound 50491111 (0.79%)  9.2s/60s"


def test_the_phase_shows_before_any_tour_exists():
    seen = _line([{"event": "phase", "phase": "round 0 running: 1 island unit",
                   "best_length": None, "elapsed": 0.5, "round": 0}])
    assert seen == "round 0 running: 1 island unit  0.5s/60s"


def test_cluster_statuses_show_queued_then_the_running_round():
    queued = {"status": "queued", "best_length": None, "round": 0, "elapsed": 0.0}
    assert _line([queued]) == "queued  0.0s in the queue"  # the budget starts at admission
    running = {"status": "running", "best_length": 7542, "round": 3, "elapsed": 2.0}
    assert _line([queued, running], optimum=7542) == \
        "round 3 running  best 7542  gap 0.000%  2.0s/60s"


def test_elapsed_ticks_between_events():
    out = io.StringIO()
    progress = ProgressLine(60, stream=out, enabled=True, tick_s=0.05)
    progress.start("round 0 running: 2 island units")  # main thread: a SIGALRM timer redraws
    try:
        deadline = time.monotonic() + 5
        while out.getvalue().count("\r") < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        progress.close()
    frames = [f.rstrip() for f in out.getvalue().split("\r") if f.strip()]
    assert len(frames) >= 4  # redrawn with no event at all
    assert len({f.rsplit("  ", 1)[-1] for f in frames}) >= 2  # and the elapsed time moved


def test_a_note_gets_its_own_line_also_off_a_terminal():
    out = io.StringIO()
    progress = ProgressLine(60, stream=out, enabled=False)
    progress.note("job abc queued")
    progress({"best_length": 5, "elapsed": 1.0})
    progress.close()
    assert out.getvalue() == "job abc queued\n"


def test_nothing_off_a_terminal():
    out = io.StringIO()  # StringIO is no terminal: the default is silence
    progress = ProgressLine(60, stream=out)
    progress.start("reading x.tsp")
    progress({"best_length": 5, "elapsed": 1.0})
    progress.close()
    assert out.getvalue() == ""
