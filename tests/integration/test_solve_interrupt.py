"""``solve --cluster`` as a user at a terminal runs it against a real coordinator and workers:
the job id comes at once, and Ctrl-C (a real SIGINT) cancels the job, or with
--detach-on-interrupt leaves it running and says how to follow or cancel it."""

from __future__ import annotations

import re
import signal
import sys

import pytest
from processes import TerminalRun

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

QUEUED = re.compile(r"job ([0-9a-f]{8}-[0-9a-f]{12}) queued \(Ctrl-C cancels it\)")


def _start(cluster, examples_dir, *extra: str) -> tuple[TerminalRun, str]:
    run = TerminalRun([sys.executable, "-m", "tsp_celery", "solve",
                       str(examples_dir / "pcb442.tsp"), "--time", "60", "--cluster", *extra],
                      cluster.env)
    text = run.read_until(QUEUED.search, 30)
    match = QUEUED.search(text)
    assert match, text
    assert run.chunks[0][0] < 10, text  # the first output does not wait for the job
    job_id = match.group(1)
    cluster.wait_until(lambda: cluster.client.status(job_id)["status"] == "running", 30,
                       f"job {job_id} running\n{cluster.logs()}")
    cluster.wait_until(lambda: cluster.client.status(job_id)["round"] >= 1, 30,
                       f"a round of {job_id}")
    return run, job_id


def test_ctrl_c_cancels_the_job_and_says_so(cluster, examples_dir):
    run, job_id = _start(cluster, examples_dir)
    run.popen.send_signal(signal.SIGINT)
    code = run.finish(30)
    assert code == 130, run.text
    assert f"asked the cluster to cancel job {job_id}" in run.text
    assert "Traceback" not in run.text
    assert cluster.wait_final(job_id, 60)["status"] == "cancelled"


def test_ctrl_c_with_detach_leaves_the_job_running_and_names_it(cluster, examples_dir):
    run, job_id = _start(cluster, examples_dir, "--detach-on-interrupt")
    run.popen.send_signal(signal.SIGINT)
    code = run.finish(30)
    assert code == 130, run.text
    assert f"tsp-celery cancel {job_id}" in run.text and "Traceback" not in run.text
    status = cluster.client.status(job_id)
    assert status["status"] == "running" and not status["cancel_requested"]
    cluster.client.cancel(job_id)
    assert cluster.wait_final(job_id, 60)["status"] == "cancelled"
