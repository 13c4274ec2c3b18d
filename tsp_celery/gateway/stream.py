"""``GET /jobs/{id}/stream``: a job's events as server-sent events, with status snapshots.

Frames: ``event: status`` (the job view, no id) first and after every event that changes it, then
one frame per log event with ``id:`` = its Redis stream id and ``event:`` = its type. A client
resumes with ``Last-Event-ID`` (exclusive start); the stream ends after the job's final event.
Each open stream waits in ``XREAD BLOCK`` on its own Redis connection (redis.asyncio), so it
holds no thread of the pool that serves the REST routes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi.encoders import jsonable_encoder

from tsp_celery.cluster.events import FINAL_EVENTS, Event, EventType
from tsp_celery.cluster.job import JobStatus
from tsp_celery.gateway.jobs import JobService
from tsp_celery.gateway.tokens import TokenInfo

# A comment line this often keeps proxies (nginx: 60 s read timeout) from closing a quiet stream.
PING_S = 15.0
# Events that can change what the job view shows.
_VIEW_CHANGING = frozenset({EventType.ADMITTED, EventType.IMPROVED, EventType.ROUND_MERGED,
                            *FINAL_EVENTS})


def frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One SSE frame; ``data`` is JSON on a single line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(jsonable_encoder(data), separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


async def job_stream(service: JobService, aredis, who: TokenInfo, job_id: str,
                     last_event_id: str | None) -> AsyncIterator[bytes]:
    """The frames of one job's stream (ownership is checked by the caller before it starts)."""
    key = service.client.keys.job_events(job_id)
    if last_event_id is None:
        newest = await aredis.xrevrange(key, count=1)
        last_event_id = newest[0][0].decode() if newest else "0-0"
    view = await anyio.to_thread.run_sync(service.view, who, job_id)
    yield frame("status", view)
    if JobStatus(view["status"]).is_final:
        return
    while True:
        reply = await aredis.xread({key: last_event_id}, block=int(PING_S * 1000), count=100)
        if not reply:
            yield b": ping\n\n"
            continue
        changed = final = False
        for _name, entries in reply:
            for entry_id, fields in entries:
                last_event_id = entry_id.decode()
                event = Event.from_entry(job_id, last_event_id, fields)
                yield frame(event.to_dict()["type"], event.to_dict(), last_event_id)
                changed |= event.type in _VIEW_CHANGING
                final |= event.type in FINAL_EVENTS
        if changed:
            yield frame("status", await anyio.to_thread.run_sync(service.view, who, job_id))
        if final:
            return
