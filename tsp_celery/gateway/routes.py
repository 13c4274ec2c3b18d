"""The REST routes. Blocking cluster calls live in plain ``def`` routes, which FastAPI runs in its
thread pool; only the event stream is ``async`` (it waits on redis.asyncio)."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from tsp_celery.gateway.auth import caller
from tsp_celery.gateway.bodies import parse_body
from tsp_celery.gateway.jobs import JobService
from tsp_celery.gateway.schemas import (
    ERROR_RESPONSES,
    Cancelled,
    EventDocument,
    Health,
    JobOptions,
    JobView,
    JsonInstance,
    Submitted,
    TourDocument,
)
from tsp_celery.gateway.stream import job_stream
from tsp_celery.gateway.tokens import TokenInfo

router = APIRouter()
Caller = Annotated[TokenInfo, Depends(caller)]

_SUBMIT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": JsonInstance.model_json_schema()},
        "text/plain": {"schema": {"type": "string", "description": "TSPLIB or coordinates"}},
        "application/gzip": {"schema": {"type": "string", "format": "binary"}},
    },
}


def _service(request: Request) -> JobService:
    return request.app.state.jobs


@router.post("/jobs", status_code=202, response_model=Submitted, tags=["jobs"],
             responses=ERROR_RESPONSES, openapi_extra={"requestBody": _SUBMIT_BODY})
async def submit(request: Request, who: Caller, options: Annotated[JobOptions, Query()],
                 content_type: Annotated[str, Header()] = "text/plain",
                 content_encoding: Annotated[str, Header()] = "") -> dict:
    """Queue an instance: TSPLIB/coordinate text, gzip, or JSON. Options as query parameters
    (or fields of a JSON body, which win)."""
    body = await request.body()  # over the cap: 413 from FastAPI's max_body_size, unparsed

    def parse_and_submit() -> dict:
        cap = request.app.state.max_body_bytes
        problem, body_options = parse_body(body, content_type, content_encoding, cap)
        merged = options
        if body_options is not None:
            merged = JobOptions.model_validate({**options.model_dump(exclude_unset=True),
                                                **body_options.model_dump(exclude_unset=True)})
        return _service(request).submit(who, problem, merged)

    return await anyio.to_thread.run_sync(parse_and_submit)


@router.get("/jobs", response_model=list[JobView], tags=["jobs"], responses=ERROR_RESPONSES)
def list_jobs(request: Request, who: Caller,
              limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict]:
    """This token's jobs, newest first."""
    return _service(request).jobs(who, limit)


@router.get("/jobs/{job_id}", response_model=JobView, tags=["jobs"], responses=ERROR_RESPONSES)
def job_status(request: Request, who: Caller, job_id: str) -> dict:
    """Status, best length, gap, lower bound, rounds."""
    return _service(request).view(who, job_id)


@router.get("/jobs/{job_id}/tour", response_model=TourDocument, tags=["jobs"],
            responses={**ERROR_RESPONSES, 200: {"content": {"text/plain": {}}}})
def job_tour(request: Request, who: Caller, job_id: str,
             format: Literal["json", "tsplib"] = "json",
             points: Annotated[int | None, Query(ge=3, le=100_000)] = None):
    """The best tour so far: JSON (``Result``), or a TSPLIB ``.tour`` with ``format=tsplib``."""
    if format == "tsplib":
        return PlainTextResponse(_service(request).tour_text(who, job_id),
                                 headers={"Content-Disposition":
                                          f'attachment; filename="{job_id}.tour"'})
    return _service(request).result(who, job_id, points)


@router.get("/jobs/{job_id}/events", response_model=list[EventDocument], tags=["jobs"],
            responses=ERROR_RESPONSES)
def job_events(request: Request, who: Caller, job_id: str) -> list[dict]:
    """The job's event log in causal (Lamport) order."""
    return _service(request).events(who, job_id)


@router.get("/jobs/{job_id}/stream", tags=["jobs"], response_class=StreamingResponse,
            responses={**ERROR_RESPONSES,
                       200: {"content": {"text/event-stream": {}},
                             "description": "Server-sent events (see docs/gateway.md)"}})
def job_events_stream(request: Request, who: Caller, job_id: str,
                      last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
    """Live events and status snapshots until the job ends."""
    service = _service(request)
    service.require_job(who, job_id)  # 404 now, before the stream starts
    frames = job_stream(service, request.app.state.aredis, who, job_id, last_event_id)
    return StreamingResponse(frames, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.delete("/jobs/{job_id}", response_model=Cancelled, tags=["jobs"],
               responses=ERROR_RESPONSES)
def cancel_job(request: Request, who: Caller, job_id: str) -> dict:
    """Cancel: a queued job at once, a running one within its current round."""
    return _service(request).cancel(who, job_id)


@router.get("/health", response_model=Health, tags=["ops"])
def health(request: Request) -> dict:
    """Redis reachable, the leader coordinator and the live worker count (no token needed)."""
    return _service(request).health()
