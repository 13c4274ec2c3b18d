"""The gateway's ``/metrics``: its own requests by route template and status, and their latency.

Cluster state (jobs, leader, workers) is exported by the coordinators; the gateway adds only
what it alone sees, so no metric is duplicated (docs/operations.md, "Monitoring").
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tsp_celery.metrics.instruments import GATEWAY, gateway_request_seconds, gateway_requests

UNMATCHED = "unmatched"  # requests no route matched (404s of probes and scanners): one label


def instrument(app: FastAPI) -> None:
    """Count and time every request, and serve GET /metrics (no token: it names no job)."""

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", UNMATCHED)
        gateway_request_seconds.labels(request.method, route).observe(
            time.perf_counter() - started)
        gateway_requests.labels(request.method, route, str(response.status_code)).inc()
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(GATEWAY), media_type=CONTENT_TYPE_LATEST)
