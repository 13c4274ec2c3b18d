"""``solve --cluster`` with nobody serving the queue (real Redis, no coordinator or worker):
the job id and the warning come at once, not after the 15 s give-up, and Ctrl-C cancels."""

from __future__ import annotations

import os
import re
import signal
import sys
import uuid

import pytest
from processes import TerminalRun

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.settings import Settings

pytestmark = [pytest.mark.timeout(60)]


def test_no_coordinator_is_said_at_once_and_ctrl_c_cancels_the_queued_job(redis_url,
                                                                           examples_dir):
    env = {**os.environ, "TSP_CELERY_PREFIX": f"sc{uuid.uuid4().hex[:6]}"}
    run = TerminalRun([sys.executable, "-m", "tsp_celery", "solve",
                       str(examples_dir / "berlin52.tsp"), "--cluster", "--redis-url", redis_url],
                      env)
    text = run.read_until(lambda t: "warning:" in t and "\n" in t.split("warning:")[1], 30)
    job_id = re.search(r"job ([0-9a-f]{8}-[0-9a-f]{12}) queued", text).group(1)
    assert "warning: no coordinator is alive (start `tsp-celery coordinator`)" in text
    assert run.chunks[-1][0] < 10, text  # NOBODY_HOME_S (15 s) has not passed
    run.popen.send_signal(signal.SIGINT)
    assert run.finish(30) == 130, run.text
    assert f"asked the cluster to cancel job {job_id} (cancelled)" in run.text
    client = ClusterClient(Settings.from_env(env, redis_url=redis_url))
    assert client.status(job_id)["status"] == "cancelled"
