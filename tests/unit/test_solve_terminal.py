"""``solve`` on a real terminal (a pty): the first output comes at once and the progress line
keeps ticking while a long round runs, before any tour exists."""

from __future__ import annotations

import os
import re
import sys

import pytest
from processes import TerminalRun

from tsp_celery.problem import generate, write_tsplib

FRAME_ELAPSED = re.compile(r"(\d+\.\d)s/4s")


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_progress_line_ticks_from_the_first_second(tmp_path):
    path = tmp_path / "u1000.tsp"
    write_tsplib(generate("uniform", 1000, seed=3), path)  # round 0 takes the whole budget
    env = {**os.environ, "COLUMNS": "200"}
    run = TerminalRun([sys.executable, "-m", "tsp_celery", "solve", str(path), "--time", "4",
                       "--workers", "1", "--seed", "1"], env)
    text = run.read_until(lambda t: "best " in t, 60)
    code = run.finish(60)
    assert code == 0, run.text
    first_at = run.chunks[0][0]
    assert first_at < 10, run.text  # (about 0.2 s on a quiet machine; the round takes 4 s)
    before_tour = text.split("best ")[0]
    frames = [f for f in before_tour.split("\r") if f.strip()]
    assert frames[0].startswith(f"reading {path}")
    assert any(f.startswith("round 0 running: ") for f in frames), frames
    ticks = {m.group(1) for f in frames if (m := FRAME_ELAPSED.search(f))}
    assert len(ticks) >= 4, frames  # elapsed moved while nothing else happened
    summary = run.text.splitlines()[-1]
    assert summary.startswith("uniform1000s3: length ")
