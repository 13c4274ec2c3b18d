"""The gateway application: FastAPI app factory, shared state and the error-to-status mapping.

State (built in the lifespan, one per process): a ClusterClient (the only holder of the Redis
credentials), the token store, the job service and a redis.asyncio client for event streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.connection import connect_async
from tsp_celery.errors import (
    ClusterError,
    InstanceError,
    JobFailedError,
    JobNotFoundError,
    LimitExceededError,
    TourError,
    TspCeleryError,
)
from tsp_celery.gateway.http_metrics import instrument
from tsp_celery.gateway.jobs import JobService, OptionLimitError, TooManyJobsError
from tsp_celery.gateway.page import mount_page
from tsp_celery.gateway.routes import router
from tsp_celery.gateway.stream import PING_S
from tsp_celery.gateway.tokens import TokenStore
from tsp_celery.settings import Settings

# Request bodies above this are refused (413) before they are parsed; gzip may inflate to it.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# Each open event stream waits on a Redis connection of its own; past this many per process, a
# new stream waits for a free connection (redis-py's default pool would fail at 100 instead).
MAX_STREAM_CONNECTIONS = 500
# Most specific first: the first matching class decides the HTTP status.
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (JobNotFoundError, 404), (OptionLimitError, 422), (TooManyJobsError, 429),
    (LimitExceededError, 413), (InstanceError, 400), (TourError, 400), (JobFailedError, 409),
    (ClusterError, 503), (ValueError, 422), (TspCeleryError, 409),
)


def _error_response(_request: Request, exc: Exception) -> JSONResponse:
    status = next(code for kind, code in _STATUS if isinstance(exc, kind))
    return JSONResponse({"detail": str(exc)}, status_code=status)


def create_app(settings: Settings | None = None,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The gateway for the deployment in ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = ClusterClient(settings)
        app.state.tokens = TokenStore(client.redis, client.keys)
        app.state.jobs = JobService(client, app.state.tokens)
        # The socket timeout must outlast a stream's XREAD BLOCK (redis-py's default is 5 s).
        app.state.aredis = connect_async(settings, max_connections=MAX_STREAM_CONNECTIONS,
                                         socket_timeout=2 * PING_S)
        app.state.max_body_bytes = max_body_bytes
        try:
            yield
        finally:
            await app.state.aredis.aclose()  # and its pool
            client.redis.close()

    app = FastAPI(title="tsp-celery gateway", version="1", lifespan=lifespan,
                  max_body_size=max_body_bytes, docs_url=None, redoc_url=None,
                  description="Submit TSP instances, follow their progress and fetch tours. "
                              "See docs/gateway.md.")
    for kind, _status in _STATUS:
        app.add_exception_handler(kind, _error_response)
    app.include_router(router)
    instrument(app)
    mount_page(app)
    return app
