"""Work units: the contract the local pool and the Celery workers rely on."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tsp_celery.solver import units
from tsp_celery.solver.construct import greedy_tour
from tsp_celery.solver.units import UnitSpec, run_unit

BUDGET = 1 << 30


def test_spec_round_trips_through_json():
    spec = UnitSpec("r3-u1", "segment", 42, 1.5, start=10, size=300)
    assert UnitSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    multi = UnitSpec("r0-u0", "island", 42, 1.5, threads=2)
    assert UnitSpec.from_dict(json.loads(json.dumps(multi.to_dict()))).threads == 2
    assert UnitSpec.from_dict({"unit_id": "a", "kind": "island", "seed": 1, "budget_s": 2}) == \
        UnitSpec("a", "island", 1, 2.0)


@pytest.mark.parametrize("bad", [{"kind": "magic"}, {"budget_s": -1}, {"size": -2},
                                 {"threads": 0}])
def test_spec_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        UnitSpec(**{"unit_id": "u", "kind": "island", "seed": 0, "budget_s": 1.0, **bad})
    with pytest.raises(ValueError, match="seed"):
        UnitSpec.from_dict({"unit_id": "u", "kind": "island", "budget_s": 1})


def test_exact_unit_proves_burma14(burma14):
    res = run_unit(burma14, UnitSpec("u", "exact", 0, 5.0))
    assert res.proven_optimal and res.length == 3323 and res.engine == "exact"
    assert burma14.tour_length(burma14.validate_tour(res.tour)) == 3323
    summary = res.summary()
    assert "tour" not in summary and summary["length"] == 3323
    json.dumps(summary)


def test_island_unit_valid_within_budget(uniform300):
    started = time.monotonic()
    res = run_unit(uniform300, UnitSpec("u", "island", 7, 0.5), matrix_budget_bytes=BUDGET)
    assert time.monotonic() - started < 0.5 + 2.0
    assert res.length == uniform300.tour_length(uniform300.validate_tour(res.tour))
    assert not res.proven_optimal and res.engine == "fast-tsp"


def test_multi_thread_island_unit_hands_its_threads_to_the_engine(uniform300, monkeypatch):
    from tsp_celery.solver.engine import get_engine

    engine, seen = get_engine("fast-tsp"), {}
    solve = engine.solve

    def spy(matrix, budget_s, seed, **kw):
        seen.update(kw)
        return solve(matrix, budget_s, seed, **kw)

    monkeypatch.setattr(engine, "solve", spy)
    res = run_unit(uniform300, UnitSpec("u", "island", 7, 0.5, threads=2),
                   matrix_budget_bytes=BUDGET)
    assert seen == {"threads": 2, "until_converged": True}
    assert res.length == uniform300.tour_length(uniform300.validate_tour(res.tour))


def test_multi_thread_restarts_share_one_matrix(uniform300, monkeypatch):
    import tsp_celery.solver.matrix as matrix

    builds = []
    build = matrix.compact_matrix
    monkeypatch.setattr(matrix, "compact_matrix",
                        lambda problem, **kw: builds.append(kw) or build(problem, **kw))
    try:
        for seed in (1, 2):
            res = run_unit(uniform300, UnitSpec(f"u{seed}", "island", seed, 0.3, threads=2),
                           matrix_budget_bytes=BUDGET)
            assert res.length == uniform300.tour_length(uniform300.validate_tour(res.tour))
    finally:
        matrix.drop_whole_matrix()
    assert builds == [{"threads": 2}]


@pytest.mark.parametrize("kind", ["segment", "region"])
def test_piece_units_report_exact_lengths(uniform300, kind):
    tour = np.random.default_rng(0).permutation(uniform300.n)
    seen = []
    res = run_unit(uniform300, UnitSpec("u", kind, 1, 0.3, start=290, size=100), tour,
                   on_progress=seen.append)
    assert res.improved and seen == [res.summary()]
    assert len(res.tour[res.tour >= 0]) == 100
    if kind == "segment":
        wrapped = tour[(290 + np.arange(100)) % 300]
        assert res.tour[0] == wrapped[0] and res.tour[-1] == wrapped[-1]


def test_past_deadline_still_returns_a_valid_result(uniform300):
    tour = np.arange(uniform300.n)
    res = run_unit(uniform300, UnitSpec("u", "segment", 1, 30.0, start=0, size=200), tour,
                   deadline=time.time() - 5)
    assert res.elapsed_s < 5.0 and res.length <= res.base_length


def test_algorithmic_trouble_returns_the_base(uniform300, monkeypatch):
    class Exploding:
        name = "boom"
        proves_optimality = False

        def solve(self, matrix, budget_s, seed):
            raise RuntimeError("kernel crashed")

    monkeypatch.setattr(units, "get_engine", lambda name: Exploding())
    tour = np.random.default_rng(2).permutation(uniform300.n)
    seg = run_unit(uniform300, UnitSpec("s", "segment", 0, 0.1, start=5, size=50), tour)
    np.testing.assert_array_equal(seg.tour, tour[5:55])
    assert seg.length == seg.base_length and seg.engine == "none"
    isl = run_unit(uniform300, UnitSpec("i", "island", 0, 0.1), tour, matrix_budget_bytes=BUDGET)
    np.testing.assert_array_equal(isl.tour, tour)
    # without a base: a greedy tour, never the file's own order
    first = run_unit(uniform300, UnitSpec("i", "island", 3, 0.1), matrix_budget_bytes=BUDGET)
    np.testing.assert_array_equal(first.tour, greedy_tour(uniform300, 3))


def test_caller_errors_raise(uniform300, burma14):
    with pytest.raises(ValueError, match="base tour"):
        run_unit(uniform300, UnitSpec("u", "segment", 0, 0.1, size=10))
    with pytest.raises(ValueError, match="n <= 16"):
        run_unit(uniform300, UnitSpec("u", "exact", 0, 0.1))
    with pytest.raises(ValueError, match="budget"):
        run_unit(uniform300, UnitSpec("u", "island", 0, 0.1), matrix_budget_bytes=1000)
    with pytest.raises(ValueError, match="size"):
        run_unit(burma14, UnitSpec("u", "region", 0, 0.1, size=15), np.arange(14))


def test_repeated_units_do_not_grow_memory(uniform300):
    import psutil

    proc = psutil.Process()
    tour = np.arange(uniform300.n)
    spec = UnitSpec("u", "region", 0, 0.02, start=0, size=200)
    for _ in range(5):
        run_unit(uniform300, spec, tour)
    before = proc.memory_info().rss
    for _ in range(40):
        run_unit(uniform300, spec, tour)
    assert proc.memory_info().rss - before < 20 * 1024 * 1024
