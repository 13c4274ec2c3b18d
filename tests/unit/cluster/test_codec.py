"""Instance and tour byte layouts: exact round trips, same content hash, corrupt data refused."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from tsp_celery.cluster.codec import (
    MAGIC,
    decode_problem,
    decode_tour,
    encode_problem,
    encode_tour,
)
from tsp_celery.errors import InstanceError
from tsp_celery.problem import Problem

pytestmark = pytest.mark.timeout(20)

RNG = np.random.default_rng(7)


def _problems() -> list[Problem]:
    xy = RNG.integers(0, 1000, size=(40, 2)).astype(float)
    m = RNG.integers(1, 100, size=(12, 12))
    m = np.triu(m, 1) + np.triu(m, 1).T
    return [
        Problem(name="euc", edge_weight_type="EUC_2D", coords=xy, comment="a comment"),
        Problem.from_coords(RNG.random((30, 2)) * 10, name="floats"),
        Problem(name="xyz", edge_weight_type="EUC_3D", coords=RNG.random((20, 3)) * 50),
        Problem.from_matrix(m, name="int matrix"),
        Problem.from_matrix(m / 7.0, name="float matrix"),
        Problem(name="shown", edge_weight_type="EXPLICIT", matrix=m, display=xy[:12]),
    ]


@pytest.mark.parametrize("problem", _problems(), ids=lambda p: p.name)
def test_problem_round_trip_keeps_every_field_and_the_content_hash(problem):
    back = decode_problem(encode_problem(problem))
    assert back.name == problem.name
    assert back.edge_weight_type == problem.edge_weight_type
    assert back.comment == problem.comment
    for name in ("coords", "matrix", "display"):
        a, b = getattr(problem, name), getattr(back, name)
        assert (a is None) == (b is None)
        if a is not None:
            assert b.dtype == a.dtype and np.array_equal(a, b)
            assert b.flags.writeable
    assert back.content_hash() == problem.content_hash()
    tour = np.arange(problem.n)
    assert back.tour_length(tour) == problem.tour_length(tour)


def test_blob_layout_is_magic_then_zlib_of_header_and_little_endian_arrays():
    p = _problems()[0]
    blob = encode_problem(p)
    assert blob.startswith(MAGIC)
    body = zlib.decompress(blob[len(MAGIC):])
    (size,) = struct.unpack_from("<I", body)
    header = json.loads(body[4 : 4 + size])
    assert header["arrays"] == [{"name": "coords", "dtype": "<f8", "shape": [40, 2]}]
    raw = np.frombuffer(body[4 + size :], dtype="<f8").reshape(40, 2)
    assert np.array_equal(raw, p.coords)


@pytest.mark.parametrize("mangle", [
    lambda b: b"XXXXX" + b[5:],                      # foreign magic
    lambda b: b[:-7],                                 # truncated stream
    lambda b: MAGIC + zlib.compress(b"\x05\x00\x00\x00{bad"),   # header not JSON
    lambda b: MAGIC + zlib.compress(zlib.decompress(b[5:]) + b"\x00" * 8),  # trailing bytes
])
def test_corrupt_instances_raise_instance_error(mangle):
    with pytest.raises(InstanceError):
        decode_problem(mangle(encode_problem(_problems()[0])))


def test_pickle_like_dtypes_are_refused():
    body = json.dumps({"name": "x", "edge_weight_type": "EUC_2D", "comment": "",
                       "arrays": [{"name": "coords", "dtype": "|O", "shape": [3, 2]}]}).encode()
    blob = MAGIC + zlib.compress(struct.pack("<I", len(body)) + body)
    with pytest.raises(InstanceError, match="unexpected array"):
        decode_problem(blob)


def test_tour_is_int32_little_endian_and_round_trips():
    tour = RNG.permutation(1000)
    raw = encode_tour(tour)
    assert len(raw) == 4000
    assert np.array_equal(np.frombuffer(raw, dtype="<i4"), tour)
    back = decode_tour(raw)
    assert back.dtype == np.int64 and np.array_equal(back, tour)


def test_separators_survive_and_bad_tours_are_refused():
    assert np.array_equal(decode_tour(encode_tour([3, -1, 2])), [3, -1, 2])
    with pytest.raises(ValueError):
        encode_tour([0, 2**31, 2])
    with pytest.raises(ValueError):
        decode_tour(b"\x00" * 5)
