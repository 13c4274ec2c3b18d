"""Byte layouts of what the cluster keeps in Redis: instances and tours. Never pickle.

Instance blob (stored once under ``Keys.instance(content_hash)``)::

    b"TSPI1"                      5-byte magic and layout version
    zlib.compress(                the rest, deflated
        uint32 little-endian      length H of the header
        H bytes UTF-8 JSON        {"name", "edge_weight_type", "comment",
                                   "arrays": [{"name", "dtype", "shape"}, ...]}
        raw array bytes           each array of "arrays" in order, C order, little-endian dtype
    )

Arrays are ``coords`` or ``matrix`` (exactly one) and optionally ``display``. The dtype is kept
(float64 coordinates, int64 or float64 matrices) so the decoded Problem has the same content
hash as the submitted one. Tours are int32 little-endian node indices, nothing else (a region
unit's result also holds -1 where the tour leaves the region).
"""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np

from tsp_celery.errors import InstanceError
from tsp_celery.problem import Problem

MAGIC = b"TSPI1"
_ARRAYS = ("coords", "matrix", "display")
_DTYPES = {"<f8", "<i8", "<i4", "<f4"}
TOUR_DTYPE = np.dtype("<i4")


def encode_problem(problem: Problem, level: int = 6) -> bytes:
    """The instance blob of ``problem`` (layout in the module docstring)."""
    arrays = []
    chunks = []
    for name in _ARRAYS:
        arr = getattr(problem, name)
        if arr is None:
            continue
        arr = np.ascontiguousarray(arr)
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        arrays.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape)})
        chunks.append(arr.tobytes())
    header = json.dumps({"name": problem.name, "edge_weight_type": problem.edge_weight_type,
                         "comment": problem.comment, "arrays": arrays}).encode()
    body = struct.pack("<I", len(header)) + header + b"".join(chunks)
    return MAGIC + zlib.compress(body, level)


def decode_problem(blob: bytes) -> Problem:
    """Inverse of ``encode_problem``; a corrupt or foreign blob raises InstanceError."""
    if not blob.startswith(MAGIC):
        raise InstanceError("stored instance has an unknown layout (bad magic)")
    try:
        body = zlib.decompress(blob[len(MAGIC):])
        (size,) = struct.unpack_from("<I", body)
        header = json.loads(body[4 : 4 + size])
        offset = 4 + size
        arrays: dict[str, np.ndarray] = {}
        for spec in header["arrays"]:
            if spec["name"] not in _ARRAYS or spec["dtype"] not in _DTYPES:
                raise ValueError(f"unexpected array {spec['name']}:{spec['dtype']}")
            dtype = np.dtype(spec["dtype"])
            count = int(np.prod(spec["shape"]))
            arr = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
            arrays[spec["name"]] = arr.reshape(spec["shape"]).astype(dtype.newbyteorder("="))
            offset += count * dtype.itemsize
        if offset != len(body):
            raise ValueError("trailing bytes after the arrays")
    except (zlib.error, struct.error, ValueError, KeyError, TypeError) as exc:
        raise InstanceError(f"stored instance is corrupt: {exc}") from exc
    return Problem(name=header["name"], edge_weight_type=header["edge_weight_type"],
                   comment=header.get("comment", ""), **arrays)


def encode_tour(tour: np.ndarray | list[int]) -> bytes:
    """A tour (or a unit's piece of one, which may hold -1 separators) as int32 LE bytes."""
    arr = np.asarray(tour)
    info = np.iinfo(np.int32)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise ValueError("Expected values that fit int32.")
    return arr.astype(TOUR_DTYPE).tobytes()


def decode_tour(raw: bytes) -> np.ndarray:
    """Inverse of ``encode_tour``, as a writable native int64 array."""
    if len(raw) % TOUR_DTYPE.itemsize:
        raise ValueError(f"Expected a multiple of 4 bytes for a tour, got {len(raw)}.")
    return np.frombuffer(raw, dtype=TOUR_DTYPE).astype(np.int64)
