"""Byte layouts of what the cluster keeps in Redis and sends to workers. Never pickle.

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

Anything read back may have been written by someone else than our code (anyone who reaches
Redis can), so decoding checks every field and inflates with a cap: a corrupt or hostile blob
or message raises InstanceError / MessageError, never another exception.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from tsp_celery.errors import InstanceError, LimitExceededError, TspCeleryError
from tsp_celery.problem import Problem
from tsp_celery.solver import UnitSpec

MAGIC = b"TSPI1"
_ARRAYS = ("coords", "matrix", "display")
_DTYPES = {"<f8", "<i8", "<i4", "<f4"}
TOUR_DTYPE = np.dtype("<i4")


def encode_problem(problem: Problem, level: int = 6) -> bytes:
    """The instance blob of ``problem`` (layout in the module docstring)."""
    return pack_body(instance_body(problem), level)


def pack_body(body: bytes, level: int = 6) -> bytes:
    """The blob of an ``instance_body``: magic, then the body deflated."""
    return MAGIC + zlib.compress(body, level)


def instance_body(problem: Problem) -> bytes:
    """The uncompressed body of the blob: its length is what ``max_instance_bytes`` limits."""
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
    return struct.pack("<I", len(header)) + header + b"".join(chunks)


def inflate(blob: bytes, max_bytes: int | None = None) -> bytes:
    """The body of an instance blob, inflated in one bounded step: LimitExceededError as soon
    as it would exceed ``max_bytes`` (a zlib bomb stops there), InstanceError if corrupt."""
    if not isinstance(blob, bytes | bytearray) or not blob.startswith(MAGIC):
        raise InstanceError("stored instance has an unknown layout (bad magic)")
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(blob[len(MAGIC):], 0 if max_bytes is None else max_bytes + 1)
    except zlib.error as exc:
        raise InstanceError(f"stored instance is corrupt: {exc}") from exc
    if max_bytes is not None and len(body) > max_bytes:
        raise LimitExceededError(f"instance is over {max_bytes} bytes decompressed, the limit "
                                 "is max_instance_bytes")
    if not inflater.eof or inflater.unused_data:
        raise InstanceError("stored instance is corrupt: truncated or trailing bytes")
    return body


def decode_problem(blob: bytes, max_bytes: int | None = None) -> Problem:
    """Inverse of ``encode_problem``; a corrupt or foreign blob raises InstanceError, one over
    ``max_bytes`` decompressed LimitExceededError."""
    body = inflate(blob, max_bytes)
    try:
        (size,) = struct.unpack_from("<I", body)
        header = json.loads(body[4 : 4 + size])
        if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
            raise ValueError("header is not an object with a list of arrays")
        offset = 4 + size
        arrays: dict[str, np.ndarray] = {}
        for spec in header["arrays"]:
            name, dtype, shape = _array_spec(spec)
            count = math.prod(shape)
            if count * dtype.itemsize > len(body) - offset or name in arrays:
                raise ValueError(f"array {name} is repeated or longer than the blob")
            arr = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
            arrays[name] = arr.reshape(shape).astype(dtype.newbyteorder("="))
            offset += count * dtype.itemsize
        if offset != len(body):
            raise ValueError("trailing bytes after the arrays")
        texts = [header.get(k, "") for k in ("name", "edge_weight_type", "comment")]
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("name, edge_weight_type and comment must be text")
        return Problem(name=texts[0], edge_weight_type=texts[1], comment=texts[2], **arrays)
    except InstanceError:
        raise
    except (struct.error, ValueError, KeyError, TypeError, OverflowError, MemoryError) as exc:
        raise InstanceError(f"stored instance is corrupt: {exc}") from exc


def _array_spec(spec: object) -> tuple[str, np.dtype, tuple[int, ...]]:
    """(name, dtype, shape) of one header entry, each checked (ValueError otherwise)."""
    if not isinstance(spec, dict):
        raise ValueError("array entry is not an object")
    name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
    if name not in _ARRAYS or dtype not in _DTYPES:
        raise ValueError(f"unexpected array {name!r}:{dtype!r}")
    if (not isinstance(shape, list) or not 1 <= len(shape) <= 2
            or not all(type(d) is int and 0 <= d < 2**31 for d in shape)):
        raise ValueError(f"bad shape {shape!r} of array {name}")
    return name, np.dtype(dtype), tuple(shape)


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


class MessageError(TspCeleryError, ValueError):
    """Raised when a task message is malformed: the task rejects it, the worker carries on."""


_JOB_ID = re.compile(r"[0-9A-Za-z_.-]{1,64}")
_HASH = re.compile(r"[0-9a-f]{1,128}")


def is_job_id(value: object) -> bool:
    """Whether ``value`` can be a job id (safe to build keys from)."""
    return isinstance(value, str) and _JOB_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class UnitMessage:
    """The arguments of a solve_unit task, each checked."""

    job_id: str
    round_no: int
    instance: str
    unit: UnitSpec
    lamport: int
    deadline_at: float | None


def decode_unit_message(job_id: object, round_no: object, instance: object, unit: object,
                        lamport: object = 0, deadline_at: object = None) -> UnitMessage:
    """The checked solve_unit arguments, or MessageError naming the first bad one."""
    if not is_job_id(job_id):
        raise MessageError(f"bad job id {str(job_id)[:80]!r}")
    if type(round_no) is not int or round_no < 0:
        raise MessageError(f"bad round number {str(round_no)[:80]!r}")
    if not isinstance(instance, str) or not _HASH.fullmatch(instance):
        raise MessageError(f"bad instance hash {str(instance)[:80]!r}")
    if type(lamport) is not int or lamport < 0:
        raise MessageError(f"bad Lamport stamp {str(lamport)[:80]!r}")
    if deadline_at is not None and (type(deadline_at) not in (int, float)
                                    or not math.isfinite(deadline_at)):
        raise MessageError(f"bad deadline {str(deadline_at)[:80]!r}")
    return UnitMessage(job_id, round_no, instance, decode_unit_spec(unit), lamport,
                       None if deadline_at is None else float(deadline_at))


def decode_unit_spec(unit: object) -> UnitSpec:
    """A UnitSpec from a message's dict, or MessageError (also for a non-finite budget)."""
    if not isinstance(unit, dict):
        raise MessageError(f"bad unit payload: expected an object, got {type(unit).__name__}")
    try:
        spec = UnitSpec.from_dict(unit)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise MessageError(f"bad unit payload: {exc}") from None
    if not math.isfinite(spec.budget_s):
        raise MessageError(f"bad unit payload: budget_s {spec.budget_s} is not finite")
    return spec
