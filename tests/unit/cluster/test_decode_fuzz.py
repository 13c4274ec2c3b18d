"""Property tests of everything a worker or the leader decodes from Redis or a task message.

Whatever the bytes or JSON, decoding returns a valid value or raises our own error (the one the
caller turns into a rejected message or a failed job), never another exception. A modest number
of examples per run; ``TSP_CELERY_FUZZ_EXAMPLES=20000`` runs many more.
"""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsp_celery.cluster.admission import JobRefused, parse_params
from tsp_celery.cluster.codec import (
    MAGIC,
    MessageError,
    decode_problem,
    decode_tour,
    decode_unit_message,
    encode_problem,
)
from tsp_celery.errors import InstanceError, LimitExceededError
from tsp_celery.problem import Problem
from tsp_celery.settings import Settings

EXAMPLES = int(os.environ.get("TSP_CELERY_FUZZ_EXAMPLES", "150"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow])
pytestmark = pytest.mark.timeout(max(120, EXAMPLES // 10))

CAP = 1 << 20
GOOD = encode_problem(Problem(name="t", edge_weight_type="EUC_2D",
                              coords=np.arange(20, dtype=float).reshape(10, 2)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


def decodes_or_refuses(blob: bytes) -> None:
    try:
        problem = decode_problem(blob, CAP)
    except (InstanceError, LimitExceededError):
        return
    assert isinstance(problem, Problem) and problem.n >= 1


@fuzz
@given(st.binary(max_size=400))
def test_any_bytes(blob):
    decodes_or_refuses(blob)
    decodes_or_refuses(MAGIC + blob)
    decodes_or_refuses(MAGIC + zlib.compress(blob))


@fuzz
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1,
                max_size=6))
def test_a_valid_blob_with_bytes_changed(changes):
    blob = bytearray(GOOD)
    for at, value in changes:
        blob[at] = value
    decodes_or_refuses(bytes(blob))


@fuzz
@given(header=json_values | st.fixed_dictionaries(
    {"name": json_values, "edge_weight_type": st.sampled_from(["EUC_2D", "GEO", "X", 1]),
     "arrays": st.lists(st.fixed_dictionaries(
         {"name": st.sampled_from(["coords", "matrix", "display", "other"]),
          "dtype": st.sampled_from(["<f8", "<i8", "<i4", "<f4", "|O", ">f8"]),
          "shape": st.lists(st.integers(-3, 12) | st.floats(0, 4) | st.text(max_size=2),
                            max_size=3)}), max_size=3)}),
    payload=st.binary(max_size=300), header_size_delta=st.integers(-3, 3))
def test_structured_headers_with_lying_shapes(header, payload, header_size_delta):
    text = json.dumps(header).encode()
    body = struct.pack("<I", max(len(text) + header_size_delta, 0)) + text + payload
    decodes_or_refuses(MAGIC + zlib.compress(body))


@fuzz
@given(st.binary(max_size=64))
def test_tours(raw):
    try:
        tour = decode_tour(raw)
    except ValueError:
        return
    assert tour.dtype == np.int64 and len(tour) * 4 == len(raw)


unit_like = st.fixed_dictionaries(
    {"unit_id": json_values, "kind": st.sampled_from(["island", "exact", "segment", "x"]),
     "seed": json_values | st.integers(), "budget_s": json_values | st.floats()},
    optional={"start": json_values, "size": json_values, "threads": json_values})


@fuzz
@given(job_id=json_values | st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
       round_no=json_values | st.integers(), instance=json_values | st.just("ab12"),
       unit=json_values | unit_like, lamport=json_values, deadline_at=json_values)
def test_unit_messages(job_id, round_no, instance, unit, lamport, deadline_at):
    try:
        message = decode_unit_message(job_id, round_no, instance, unit, lamport, deadline_at)
    except MessageError:
        return
    assert message.unit.budget_s >= 0 and np.isfinite(message.unit.budget_s)
    assert message.round_no >= 0 and message.lamport >= 0


@fuzz
@given(json_values | st.fixed_dictionaries(
    {"time_s": json_values | st.floats()},
    optional={k: json_values for k in ("target", "priority", "seed", "stall_rounds", "bound",
                                       "merge", "unknown")}))
def test_job_parameters(raw):
    try:
        params = parse_params(raw, Settings())
    except JobRefused:
        return
    assert 0 < params.time_s <= Settings().max_job_seconds
    assert params.stall_rounds is None or params.stall_rounds >= 1


def test_decoding_stops_at_the_cap_on_a_bomb():
    bomb = MAGIC + zlib.compress(b"\0" * (64 << 20), 9)
    with pytest.raises(LimitExceededError, match="over 1048576 bytes decompressed"):
        decode_problem(bomb, CAP)
