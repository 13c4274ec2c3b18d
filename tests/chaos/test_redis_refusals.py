"""Redis refuses writes mid-job (maxmemory reached, noeviction): everybody waits it out.

Coordinators stay up and log the state change once; a client's submit fails with a clear error
and exit 3, leaving nothing behind; once the limit is raised the job completes.
"""

from __future__ import annotations

import time

import pytest
from chaos_harness import DATA, figure, wait_until

pytestmark = pytest.mark.chaos


@pytest.mark.timeout(180)
def test_out_of_memory_mid_job_is_waited_out_and_the_job_completes(cluster, request):
    cluster.worker("w1")
    coord = cluster.coordinator("coord-a", priority=1)
    cluster.wait_for_workers(1)
    job, problem = cluster.submit("pcb442", time_s=20)
    cluster.wait_round(job, 2)
    keys_before = cluster.redis.dbsize()
    jobs_before = cluster.redis.zcard(cluster.keys.jobs())
    cluster.redis.config_set("maxmemory", 1)  # every write that needs memory is refused: OOM
    oom_at = time.time()
    try:
        refused = cluster.cli("submit", str(DATA / "berlin52.tsp"), "--time", "5")
        assert refused.returncode == 3, refused
        assert "out of memory" in refused.stderr and "not queued" in refused.stderr
        assert refused.stderr.count("\n") <= 2, refused.stderr  # one clear line, no traceback
        assert cluster.redis.zcard(cluster.keys.jobs()) == jobs_before
        wait_until(lambda: "Redis out of memory" in coord.log(), 30,
                   "the coordinator to meet the refusal")  # a round closes or plans into it
        time.sleep(2.0)
        assert coord.alive(), coord.tail()
        assert cluster.redis.dbsize() <= keys_before + 1, "a refused submit left keys behind"
    finally:
        cluster.redis.config_set("maxmemory", 0)
    raised_at = time.time()
    rec = cluster.check_done(job, problem, timeout_s=120)
    log = coord.log()
    assert coord.alive()
    assert 1 <= log.count("Redis out of memory") <= 3, log[-3000:]  # per state change, per thread
    assert "Redis is fine again" in log
    # Celery's consumer does not survive an OOM reply to its ack (kombu treats it as fatal):
    # the worker exits and its supervisor (compose: restart: unless-stopped) starts it again.
    worker = cluster.procs[0]
    if not worker.alive():
        cluster.worker("w1-restarted")
        cluster.wait_for_workers(1)
    later, _ = cluster.submit("berlin52", time_s=3)
    assert cluster.wait_final(later, 60)["status"] == "done"
    figure(request, oom_s=round(raised_at - oom_at, 1), best_final=float(rec["best_length"]),
           oom_log_lines=log.count("Redis out of memory"), worker_survived=worker.alive())
