"""Worker metrics in multiprocess mode: samples of forked children are merged, a killed
child's in-progress unit is forgotten, outcomes and times are counted once per unit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tsp_celery.errors import TspCeleryError
from tsp_celery.metrics import worker

pytestmark = pytest.mark.timeout(60)

# Children like Celery's prefork pool: two finish units, one has a task that Redis failed, one
# is SIGKILLed mid-unit.
_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from prometheus_client import CollectorRegistry, generate_latest
    from tsp_celery.metrics import worker

    def child(body):
        pid = os.fork()
        if pid == 0:
            body()
            os._exit(0)
        os.waitpid(pid, 0)

    def ok():
        worker.unit_started("t1", "island", False)
        time.sleep(0.05)
        worker.unit_ended("t1", {"ok": True, "elapsed_s": 0.01}, True)
        worker.unit_started("t2", "segment", True)
        worker.unit_ended("t2", {"ok": False, "error": "x"}, True)

    def skipped():
        worker.unit_started("t3", "island", False)
        worker.unit_ended("t3", {"ok": False, "skipped": "round closed"}, True)
        worker.merge_started("m1")
        worker.merge_ended("m1")

    def redis_failed():  # through the Celery signal, as a prefork child sees it
        import redis
        from celery import signals
        import tasks.task_metrics
        tasks.task_metrics._port.append(9809)
        signals.task_failure.send(sender=None, exception=redis.ConnectionError("gone"))
        signals.task_failure.send(sender=None, exception=ValueError("not Redis"))

    def killed():
        worker.unit_started("t4", "union", False)
        os.kill(os.getpid(), signal.SIGKILL)

    for body in (ok, skipped, redis_failed, killed):
        child(body)
    registry = CollectorRegistry()
    registry.register(worker.SweptMultiProcessCollector(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    sys.stdout.write(generate_latest(registry).decode())
""")


def _run(tmp_path) -> dict[tuple[str, tuple], float]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(proc.stdout) for s in f.samples}


def test_children_are_merged_and_a_killed_child_is_not_in_progress(tmp_path):
    s = _run(tmp_path)
    assert s[("tsp_celery_worker_units_total", (("outcome", "succeeded"),))] == 1
    assert s[("tsp_celery_worker_units_total", (("outcome", "failed"),))] == 1
    assert s[("tsp_celery_worker_units_total", (("outcome", "skipped"),))] == 1
    assert s[("tsp_celery_units_redelivered_total", ())] == 1
    assert s[("tsp_celery_unit_duration_seconds_count", (("kind", "island"),))] == 1  # not t3
    assert s[("tsp_celery_unit_duration_seconds_count", (("kind", "segment"),))] == 1
    wall = s[("tsp_celery_unit_duration_seconds_sum", (("kind", "island"),))]
    solver = s[("tsp_celery_unit_solver_seconds_total", (("kind", "island"),))]
    overhead = s[("tsp_celery_unit_overhead_seconds_total", (("kind", "island"),))]
    assert solver == pytest.approx(0.01) and wall >= 0.05
    assert solver + overhead == pytest.approx(wall)
    assert s[("tsp_celery_unit_peak_rss_bytes_count", (("kind", "island"),))] == 1
    assert s[("tsp_celery_merge_duration_seconds_count", (("closer", "chord"),))] == 1
    assert s[("tsp_celery_worker_units_in_progress", ())] == 0  # t4's child was SIGKILLed
    assert s[("tsp_celery_redis_errors_total", (("error", "ConnectionError"),))] == 1
    # only worker metrics: the coordinator's instruments, written by every process, stay out
    assert not any(name.startswith("tsp_celery_lease") for name, _ in s)


def test_configured_port_needs_a_port_and_a_directory():
    assert worker.configured_port({}) is None
    assert worker.configured_port({worker.PORT_ENV: "9809", worker.DIR_ENV: "/tmp/x"}) == 9809
    with pytest.raises(TspCeleryError, match=worker.DIR_ENV):
        worker.configured_port({worker.PORT_ENV: "9809"})
    with pytest.raises(TspCeleryError, match="TCP port"):
        worker.configured_port({worker.PORT_ENV: "http", worker.DIR_ENV: "/tmp/x"})


def test_wipe_removes_samples_of_an_earlier_run(tmp_path):
    (tmp_path / "counter_123.db").write_bytes(b"x")
    (tmp_path / "keep.txt").write_text("not ours")
    worker.wipe(str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_units_run_in_the_workers_own_process_are_counted_after_the_wipe(tmp_path):
    """The threads and gevent pools run units in the process that wiped the directory."""
    (tmp_path / "counter_1.db").write_bytes(b"x")  # an earlier run's
    script = textwrap.dedent("""
        import sys
        from prometheus_client import CollectorRegistry, generate_latest, multiprocess
        from tsp_celery.metrics import worker
        worker.wipe(sys.argv[1])
        worker.unit_started("t1", "island", False)
        worker.unit_ended("t1", {"ok": True, "elapsed_s": 0.01}, True)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=sys.argv[1])
        sys.stdout.write(generate_latest(registry).decode())
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=30, env={**os.environ, worker.DIR_ENV: str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    outcomes = {s.labels["outcome"]: s.value
                for family in text_string_to_metric_families(proc.stdout)
                for s in family.samples if s.name == "tsp_celery_worker_units_total"}
    assert outcomes == {"succeeded": 1.0}
    assert not (tmp_path / "counter_1.db").exists()


def test_a_worker_with_a_port_but_no_directory_exits_2_saying_why(redis_url):
    env = {k: v for k, v in os.environ.items() if k != worker.DIR_ENV}
    env.update({worker.PORT_ENV: "9", "TSP_CELERY_REDIS_URL": redis_url})
    proc = subprocess.run([sys.executable, "-m", "celery", "-A", "tasks", "worker", "-c", "1",
                           "-l", "warning"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{worker.PORT_ENV} needs {worker.DIR_ENV}" in proc.stderr
