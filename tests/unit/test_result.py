"""Result: JSON round trip with stable keys, gaps, and the one-line summary."""

from __future__ import annotations

import json

import pytest

from tsp_celery.result import Result

pytestmark = pytest.mark.timeout(10)


def test_round_trip_through_json_keeps_every_field():
    r = Result(tour=[2, 0, 1], length=30, proven_optimal=True, time_to_best=0.5, elapsed=1.0,
               engine="exact", seed=7, trace=[(0.1, 40), (0.5, 30)], lower_bound=30,
               lower_bound_proven=True, optimum=30, name="tiny", stats={"rounds": 1})
    back = Result.from_dict(json.loads(r.to_json()))
    assert back == r
    assert back.gap_pct == 0.0
    assert back.gap_bound_pct == 0.0


def test_to_dict_has_the_keys_scripts_rely_on():
    d = Result(tour=[0, 1, 2], length=12.5).to_dict()
    for key in ("tour", "length", "proven_optimal", "time_to_best", "gap_pct", "lower_bound"):
        assert key in d
    assert d["length"] == 12.5


def test_integral_length_serialises_as_int():
    assert Result(tour=[0, 1, 2], length=7542.0).to_dict()["length"] == 7542


def test_unknown_keys_from_newer_servers_are_ignored():
    r = Result.from_dict({"tour": [0, 1, 2], "length": 3, "future_field": 1})
    assert r.length == 3


def test_summary_mentions_gap_and_proof():
    r = Result(tour=[0, 1, 2], length=110, optimum=100, proven_optimal=False, name="x")
    assert "10.000%" in r.summary()
    assert "proven optimal" in Result(tour=[0, 1, 2], length=1, proven_optimal=True).summary()


def test_only_a_proven_bound_bounds_the_distance_to_the_optimum():
    proven = Result(tour=[0, 1, 2], length=50778, lower_bound=50500.0, lower_bound_proven=True)
    assert "at most 0.550% above optimal (proven lower bound 50500)" in proven.summary()
    estimate = Result(tour=[0, 1, 2], length=50889023, lower_bound=50491111.86)
    text = estimate.summary()
    assert "at most" not in text and "50491111.86" not in text
    assert "0.788% above estimated lower bound 50491111 (not proven)" in text


def test_bounds_round_up_only_when_proven():
    from tsp_celery.lengths import bound_number

    assert bound_number(1000.2, True, 1010) == "1001"
    assert bound_number(1000.0000000001, True, 1010) == "1000"  # float noise is no fraction
    assert bound_number(1000.8, False, 1010) == "1000"
    assert bound_number(7.25, False, 7.5) == "7.250"  # a fractional tour keeps decimals
