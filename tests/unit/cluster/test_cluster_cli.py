"""The cluster CLI as a user runs it (subprocesses), without workers: errors, exit codes, --json.

Real Redis (``redis_url``); no coordinator or worker runs, which is itself a case users hit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.settings import Settings

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]


@pytest.fixture
def env(redis_url) -> dict:
    return {**os.environ, "TSP_CELERY_REDIS_URL": redis_url,
            "TSP_CELERY_PREFIX": f"cli{uuid.uuid4().hex[:6]}"}


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsp_celery", *args], env=env,
                          capture_output=True, text=True, timeout=50)


def test_submit_without_coordinator_queues_safely_and_says_so(env, examples_dir):
    out = run(env, "submit", str(examples_dir / "berlin52.tsp"), "--time", "5", "--priority",
              "3", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "queued" and data["queued_only"] is True
    assert "no coordinator is alive" in out.stderr and data["job_id"] in out.stderr
    st = json.loads(run(env, "status", data["job_id"], "--json").stdout)
    assert st["status"] == "queued" and st["best_length"] is None and st["round"] == 0
    assert st["priority"] == 3 and st["elapsed"] == 0
    client = ClusterClient(Settings.from_env(env))
    assert client.store.queued_ids() == [data["job_id"]]
    # A plain submit prints just the id (scriptable).
    plain = run(env, "submit", str(examples_dir / "burma14.tsp"))
    assert plain.returncode == 0 and plain.stdout.strip() in client.store.queued_ids()


def test_cancel_of_a_queued_job_and_the_jobs_table(env, examples_dir):
    job_id = run(env, "submit", str(examples_dir / "burma14.tsp")).stdout.strip()
    assert json.loads(run(env, "cancel", job_id, "--json").stdout) == {"job_id": job_id,
                                                                      "status": "cancelled"}
    rows = json.loads(run(env, "jobs", "--json").stdout)
    assert [(r["job_id"], r["status"]) for r in rows] == [(job_id, "cancelled")]
    table = run(env, "jobs")
    assert job_id in table.stdout and "cancelled" in table.stdout
    result = run(env, "result", job_id)
    assert result.returncode == 2 and "no tour yet" in result.stderr


def test_submit_no_merge_is_stored_in_the_job_parameters(env, examples_dir):
    path = str(examples_dir / "burma14.tsp")
    ids = {flags: run(env, "submit", path, *flags).stdout.strip()
           for flags in ((), ("--merge",), ("--no-merge",))}
    store = ClusterClient(Settings.from_env(env)).store
    assert {flags: store.record(job_id)["params"]["merge"] for flags, job_id in ids.items()} == {
        (): True, ("--merge",): True, ("--no-merge",): False}


def test_submit_draws_a_seed_unless_given_one(env, examples_dir):
    path = str(examples_dir / "burma14.tsp")
    drawn = [json.loads(run(env, "submit", path, "--json").stdout) for _ in range(2)]
    given = json.loads(run(env, "submit", path, "--seed", "7", "--json").stdout)
    store = ClusterClient(Settings.from_env(env)).store
    seeds = [store.record(d["job_id"])["params"]["seed"] for d in (*drawn, given)]
    assert seeds == [d["seed"] for d in (*drawn, given)]
    assert seeds[0] != seeds[1] and seeds[2] == 7
    assert run(env, "submit", path, "--seed", "-1").returncode == 2


def test_unknown_job_exits_2(env):
    for command in ("status", "watch", "result", "cancel"):
        out = run(env, command, "nosuchjob")
        assert out.returncode == 2, (command, out.stderr)
        assert out.stderr.startswith("error: no job 'nosuchjob'"), out.stderr


def test_unreachable_redis_exits_3_naming_the_url_without_its_password(env):
    url = "redis://:hunter2@127.0.0.1:1/0"
    for args in (("status", "x"), ("jobs",), ("workers", "--json")):
        out = run(env, *args, "--redis-url", url)
        assert out.returncode == 3, out.stderr
        assert "redis://:***@127.0.0.1:1/0" in out.stderr and "hunter2" not in out.stderr


def test_bad_input_is_refused_before_anything_is_queued(env, tmp_path):
    bad = tmp_path / "bad.tsp"
    bad.write_text("NAME: bad\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EUC_2D\n"
                   "NODE_COORD_SECTION\n1 0 0\n2 1 nan\nEOF\n")
    out = run(env, "submit", str(bad))
    assert out.returncode == 2 and out.stderr.startswith("error:")
    too_long = run({**env, "TSP_CELERY_MAX_JOB_SECONDS": "10"}, "submit", str(bad), "--time",
                   "11")
    assert too_long.returncode == 2
    assert ClusterClient(Settings.from_env(env)).jobs() == []
    assert run(env, "submit", str(bad), "--time", "-1").returncode == 2


def test_workers_command_with_no_workers(env):
    assert json.loads(run(env, "workers", "--json").stdout) == []
    assert "no live workers" in run(env, "workers").stdout


def test_jobs_marks_a_cut_name_with_an_ellipsis(env, tmp_path, examples_dir):
    path = tmp_path / "long.tsp"
    text = (examples_dir / "berlin52.tsp").read_text()
    path.write_text(text.replace("NAME: berlin52", "NAME: berlin52_with_a_long_name", 1))
    assert run(env, "submit", str(path)).returncode == 0
    assert run(env, "submit", str(examples_dir / "berlin52.tsp")).returncode == 0
    rows = run(env, "jobs").stdout.splitlines()[1:]
    assert any(" berlin52_with… " in row for row in rows), rows
    assert any(" berlin52 " in row for row in rows), rows  # a short name stays as it is
