"""End to end on real processes: CLI -> Redis -> coordinator -> Celery chords on two workers.

Small instances and 2-4 s budgets keep the module near a minute. Quality checks have generous
margins; no assertion is about speed.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from tsp_celery.cluster.celery_config import SOLVE_TASK, make_app
from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.problem import load_problem, read_tour
from tsp_celery.solver.budget import fits_matrix_budget
from tsp_celery.solver.construct import greedy_tour
from tsp_celery.solver.elite import ELITE_SIZE

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _json(proc) -> dict | list:
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    return json.loads(proc.stdout)


def test_cli_job_completes_with_a_valid_tour_matching_its_record(cluster, examples_dir,
                                                                 tmp_path):
    path = examples_dir / "berlin52.tsp"
    job_id = _json(cluster.cli("submit", str(path), "--time", "2", "--json"))["job_id"]
    watch = cluster.cli("watch", job_id, "--json", "--interval", "0.2")
    lines = [json.loads(line) for line in watch.stdout.splitlines()]
    assert watch.returncode == 0, (watch.stderr, cluster.logs())
    assert lines[-1]["status"] == "done" and lines[-1]["workers"] == 2
    st = _json(cluster.cli("status", job_id, "--json"))
    assert {"job_id", "status", "best_length", "round", "elapsed"} <= st.keys()
    assert st["job_id"] == job_id and st["status"] == "done" and st["round"] >= 1
    out = tmp_path / "berlin52.tour"
    res = _json(cluster.cli("result", job_id, "--out", str(out), "--json"))
    problem = load_problem(path)
    tour = read_tour(out, problem.n)
    problem.validate_tour(tour)
    assert problem.tour_length(tour) == st["best_length"] == res["length"]
    assert res["tour"] == [int(v) for v in tour]
    assert st["best_length"] <= 7542 * 1.05  # optimum 7542; a 2 s cluster job gets close


def test_two_concurrent_jobs_both_finish(cluster, examples_dir):
    problems = {name: load_problem(examples_dir / f"{name}.tsp") for name in ("kroA100",
                                                                              "eil101")}
    ids = {name: cluster.client.submit(p, {"time_s": 3}) for name, p in problems.items()}
    final = {name: cluster.wait_final(job_id) for name, job_id in ids.items()}
    for name, st in final.items():
        assert st["status"] == "done", (st, cluster.logs())
        tour = cluster.client.store.best_tour(ids[name])
        problems[name].validate_tour(tour)
        assert problems[name].tour_length(tour) == st["best_length"]
    a, b = final.values()
    assert a["admitted_at"] < b["finished_at"] and b["admitted_at"] < a["finished_at"]


def test_cancel_stops_a_job_within_one_round(cluster, examples_dir):
    job_id = _json(cluster.cli("submit", str(examples_dir / "kroA100.tsp"), "--time", "60",
                               "--json"))["job_id"]
    cluster.wait_until(lambda: cluster.client.status(job_id)["round"] >= 1, 30,
                       "the first round")
    assert _json(cluster.cli("cancel", job_id, "--json")) == {"job_id": job_id,
                                                               "status": "running"}
    st = cluster.wait_final(job_id, timeout_s=30)
    assert st["status"] == "cancelled" and st["elapsed"] < 60
    # The round in flight when the cancel arrived is the last (or one planned racing it).
    assert 1 <= st["cancel_round"] <= st["round"] <= st["cancel_round"] + 1
    time.sleep(1.0)
    assert cluster.client.status(job_id)["round"] == st["round"]  # nothing planned afterwards
    kinds = [e.type for e in EventLog(cluster.redis, cluster.client.keys).read(job_id)]
    assert kinds[-1] == EventType.CANCELLED


def test_units_are_visible_to_flower_as_events_and_in_the_store(cluster, examples_dir):
    app = make_app(cluster.settings)
    seen: list[dict] = []
    ready = threading.Event()
    receiver: list = []

    def capture() -> None:
        with app.connection_for_read() as conn:
            recv = app.events.Receiver(conn, handlers={"*": seen.append})
            receiver.append(recv)
            ready.set()
            recv.capture(limit=None, timeout=None, wakeup=True)

    thread = threading.Thread(target=capture, daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(0.5)  # the receiver's queue is bound before the job's first unit is sent
    job_id = cluster.client.submit(load_problem(examples_dir / "berlin52.tsp"), {"time_s": 2})
    assert cluster.wait_final(job_id)["status"] == "done"
    unit_task = f"{job_id}-r1-u0"
    cluster.wait_until(lambda: any(e.get("type") == "task-succeeded" and e.get("uuid") == unit_task
                           for e in seen), 10, "task-succeeded of the first unit")
    receiver[0].should_stop = True
    mine = [e for e in seen if e.get("uuid") == unit_task]
    kinds = {e["type"] for e in mine}
    assert {"task-sent", "task-received", "task-started", "task-progress",
            "task-succeeded"} <= kinds
    progress = [e for e in mine if e["type"] == "task-progress"]
    assert progress[0]["job_id"] == job_id and progress[0]["unit_id"] == "r1-u0"
    sent = next(e for e in mine if e["type"] == "task-sent")
    assert sent["name"] == SOLVE_TASK and sent["queue"] == "solve"
    # A round the leader merges keeps no Celery result: the unit's result is its record.
    assert cluster.client.store.unit_records(job_id, 1)["r1-u0"]["ok"] is True


def test_workers_command_lists_live_workers_and_slots(cluster):
    rows = _json(cluster.cli("workers", "--json"))
    assert len(rows) == 2 and all(r["slots"] == 1 for r in rows)
    assert all(sorted(r["queues"]) == ["merge", "solve"] for r in rows)


def test_jobs_command_lists_submitted_jobs(cluster, examples_dir):
    job_id = cluster.client.submit(load_problem(examples_dir / "burma14.tsp"), {"time_s": 2})
    st = cluster.wait_final(job_id)
    assert st["status"] == "done"
    res = cluster.client.result(job_id)
    assert res.proven_optimal and res.length == 3323  # n <= 16: one exact unit
    rows = _json(cluster.cli("jobs", "--json"))
    assert rows[0]["job_id"] == job_id and rows[0]["best_length"] == 3323


def test_an_instance_beyond_the_matrix_budget_is_improved_piece_by_piece(cluster,
                                                                            data_dir):
    problem = load_problem(data_dir / "dsj1000.tsp")
    assert not fits_matrix_budget(problem.n, cluster.settings.matrix_budget_bytes)
    job_id = cluster.client.submit(problem, {"time_s": 5})
    st = cluster.wait_final(job_id)
    assert st["status"] == "done", (st, cluster.logs())
    tour = cluster.client.store.best_tour(job_id)
    problem.validate_tour(tour)
    assert problem.tour_length(tour) == st["best_length"]
    events = EventLog(cluster.redis, cluster.client.keys).read(job_id)
    initial = [e for e in events if e.type == EventType.IMPROVED and e.data["round"] == 0]
    assert len(initial) == 1, "\n".join(str(e.to_dict()) for e in events)
    planned = [e.data["kind"] for e in events if e.type == EventType.ROUND_PLANNED]
    assert planned and not {"island", "exact"} & set(planned)  # decomposition rounds only
    # There was time for a partition first tour, its two parts solved by the two workers and
    # joined: far shorter than greedy edge (~15 %).
    assert initial[0].data["method"] == "2 parts", initial[0].to_dict()
    assert initial[0].data["length"] < 0.95 * problem.tour_length(greedy_tour(problem, 0))
    # The segments improved the first tour.
    assert st["best_length"] < initial[0].data["length"], [e.to_dict() for e in events]


def test_client_solve_submits_waits_and_returns_the_result(cluster, examples_dir):
    problem = load_problem(examples_dir / "att48.tsp")
    seen: list[dict] = []
    res = ClusterClient(cluster.settings).solve(problem, {"time_s": 2, "seed": 5},
                                                on_progress=seen.append)
    assert [s["status"] for s in seen][-1] == "done"
    assert {s["status"] for s in seen} <= {"queued", "running", "done"}
    problem.validate_tour(res.tour)
    assert res.length == problem.tour_length(res.tour) and res.seed == 5
    assert res.length <= 10628 * 1.05 and res.stats["status"] == "done"
    assert res.trace and res.trace[-1][1] == res.length and res.elapsed > 0


def test_a_lower_bound_is_computed_beside_the_search(cluster, examples_dir):
    problem = load_problem(examples_dir / "kroA100.tsp")
    job_id = _json(cluster.cli("submit", str(examples_dir / "kroA100.tsp"), "--time", "2",
                               "--bound", "--json"))["job_id"]
    assert cluster.wait_final(job_id)["status"] == "done"
    bound = cluster.wait_until(lambda: cluster.client.store.get_bound(problem.content_hash()),
                               30, "the cached bound")
    res = cluster.client.result(job_id)
    assert res.lower_bound == bound["value"] and 0 < res.lower_bound <= res.length
    assert res.lower_bound >= 0.9 * 21282  # Held-Karp is within a few % of the optimum
    assert res.gap_bound_pct is not None and res.gap_bound_pct >= 0
    # with 1 s, branch-and-cut may prove kroA100's optimum or stop short: optimal iff they meet
    assert res.proven_optimal == (res.length == res.lower_bound == 21282)


def test_a_tour_that_meets_the_proven_bound_is_reported_optimal(cluster, examples_dir):
    job_id = _json(cluster.cli("submit", str(examples_dir / "berlin52.tsp"), "--time", "20",
                               "--bound", "--json"))["job_id"]
    status = cluster.wait_final(job_id)
    res = cluster.client.result(job_id)
    assert res.length == 7542 and res.lower_bound == 7542 and res.lower_bound_proven
    assert res.proven_optimal and status["proven_optimal"]
    assert res.optimum == 7542 and res.gap_pct == 0.0  # TSPLIB's published optimum
    assert res.elapsed < 20  # it stopped on the proof, not on the budget


def test_island_rounds_keep_an_elite_pool_in_redis_unless_merging_is_off(cluster, examples_dir):
    path = examples_dir / "kroA100.tsp"
    problem = load_problem(path)
    merged = _json(cluster.cli("submit", str(path), "--time", "3", "--json"))["job_id"]
    plain = _json(cluster.cli("solve", str(path), "--time", "3", "--cluster", "--no-merge",
                              "--json", timeout_s=90))
    st = cluster.wait_final(merged)
    assert st["status"] == "done", (st, cluster.logs())
    # Merging on: the pool holds valid tours of distinct lengths, shortest first, and its
    # first is as short as the committed best; it expires with the job.
    pool = cluster.client.store.elite_tours(merged)
    assert 1 <= len(pool) <= ELITE_SIZE
    lengths = [problem.tour_length(problem.validate_tour(t)) for t in pool]
    assert lengths == sorted(set(lengths)) and lengths[0] == st["best_length"]
    assert cluster.client.store.record(merged)["params"]["merge"] is True
    ttl = cluster.redis.ttl(cluster.client.keys.job_elite(merged))
    assert 0 < ttl <= cluster.settings.retention_s
    # Merging off (`solve --cluster --no-merge`): a valid tour, and no pool.
    off = plain["stats"]["job_id"]
    assert plain["stats"]["status"] == "done", (plain, cluster.logs())
    tour = problem.validate_tour(plain["tour"])
    assert problem.tour_length(tour) == plain["length"] == cluster.client.status(off)["best_length"]
    assert plain["length"] <= 21282 * 1.05  # kroA100's optimum; the best of the runs is close
    assert cluster.client.store.record(off)["params"]["merge"] is False
    assert not cluster.redis.exists(cluster.client.keys.job_elite(off))
    assert _unit_kinds(cluster, off) == {"island"}



def _unit_kinds(cluster, job_id: str) -> set[str]:
    store = cluster.client.store
    rounds = store.record(job_id).get("round", 0)
    return {rec["kind"] for r in range(1, rounds + 1)
            for rec in store.unit_records(job_id, r).values()}


def test_a_tiny_job_with_a_target_ends_in_short_rounds_the_leader_or_its_unit_closes(
        cluster, examples_dir):
    """Real workers: the units' ends wake the leader, which merges the rounds (no chord body);
    berlin52's first rounds are milliseconds long, so reaching its optimum ends the job: a unit
    whose own tour reaches it closes its round and finishes the job itself."""
    problem = load_problem(examples_dir / "berlin52.tsp")
    job_id = cluster.client.submit(problem, {"time_s": 30, "target": 7542})
    st = cluster.wait_final(job_id)
    assert st["status"] == "done" and st["best_length"] == 7542, (st, cluster.logs())
    rounds = cluster.client.store.rounds(job_id)
    closers = [r["merged"]["closer"] for r in rounds.values()]
    assert set(closers[:-1]) <= {"leader"} and closers[-1] in ("leader", "worker")
    if closers[-1] == "worker":  # it committed the optimum itself
        assert rounds[max(rounds)]["merged"]["best_after"] == 7542
    plans = [r["plan"]["plan"]["units"][0]["budget_s"] for r in rounds.values()]
    assert plans[0] < 0.05  # a short start, not a 0.6 s slice
