"""Request bodies of ``POST /jobs`` turned into a Problem and its options, with the same loaders as
the CLI (``tsp_celery.problem``).

Accepted: TSPLIB or plain coordinate text (any text content type), the same gzip-compressed
(``Content-Encoding: gzip`` or gzip magic bytes), or JSON (``JsonInstance``). gzip is inflated
only up to the body cap, so a small compressed body cannot expand into a huge instance.
"""

from __future__ import annotations

import json
import zlib

from pydantic import ValidationError

from tsp_celery.errors import InstanceError, LimitExceededError
from tsp_celery.gateway.schemas import JobOptions, JsonInstance
from tsp_celery.problem import Problem
from tsp_celery.problem.load import parse_problem

_GZIP_MAGIC = b"\x1f\x8b"


def inflate(body: bytes, max_bytes: int) -> bytes:
    """The gzip ``body`` decompressed; LimitExceededError past ``max_bytes``."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise InstanceError(f"corrupt gzip body: {exc}") from exc
    if len(out) > max_bytes:
        raise LimitExceededError(f"gzip body inflates past the limit of {max_bytes} bytes")
    if not inflater.eof:
        raise InstanceError("corrupt gzip body: truncated")
    return out


def _text(body: bytes) -> str:
    if not body.strip():
        raise InstanceError("empty body: send a TSPLIB instance, coordinates or JSON")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")  # old TSPLIB comments, as for files


def _json_problem(body: bytes) -> tuple[Problem, JobOptions]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise InstanceError(f"body is not valid JSON: {exc}") from exc
    try:
        inst = JsonInstance.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        if first["loc"] and first["loc"][0] in JobOptions.model_fields:
            raise ValueError(f"option {where}: {first['msg']}") from exc  # 422, as in a query
        raise InstanceError(f"JSON body: {where}: {first['msg']}") from exc
    if (inst.coords is None) == (inst.matrix is None):
        raise InstanceError("JSON body needs exactly one of 'coords' or 'matrix'")
    try:
        if inst.matrix is not None:
            problem = Problem.from_matrix(inst.matrix, name=inst.name)
        else:
            problem = Problem.from_coords(inst.coords, inst.edge_weight_type, name=inst.name)
    except ValueError as exc:  # ragged rows
        raise InstanceError(f"JSON body: {exc}") from exc
    options = JobOptions.model_validate(inst.model_dump(include=set(JobOptions.model_fields),
                                                        exclude_unset=True))
    return problem, options


def parse_body(body: bytes, content_type: str, content_encoding: str,
               max_bytes: int) -> tuple[Problem, JobOptions | None]:
    """The instance in ``body``; options too when they came in a JSON body (else None)."""
    if "gzip" in content_encoding.lower() or body.startswith(_GZIP_MAGIC):
        body = inflate(body, max_bytes)
    if content_type.split(";")[0].strip().lower() == "application/json":
        return _json_problem(body)
    return parse_problem(_text(body), "body"), None
