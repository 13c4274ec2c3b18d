"""A small HTTP client of the gateway (standard library only): what ``tsp-celery submit
--gateway`` and ``solve(..., gateway=...)`` use instead of a Redis connection."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from tsp_celery.errors import (
    ClusterError,
    InstanceError,
    JobFailedError,
    JobNotFoundError,
    LimitExceededError,
    TspCeleryError,
)
from tsp_celery.problem import Problem
from tsp_celery.result import Result

TOKEN_ENV = "TSP_CELERY_GATEWAY_TOKEN"
_FINAL = ("done", "failed", "cancelled")
# The error a status code becomes on the client side (anything else: TspCeleryError).
_ERRORS: dict[int, type[TspCeleryError]] = {400: InstanceError, 404: JobNotFoundError,
                                            413: LimitExceededError, 422: LimitExceededError,
                                            429: LimitExceededError, 503: ClusterError}


class GatewayClient:
    """One gateway (base URL) and one token (default: $TSP_CELERY_GATEWAY_TOKEN)."""

    def __init__(self, url: str, token: str | None = None, timeout_s: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Expected an http:// or https:// gateway URL, got {url!r}.")
        self.url = url.rstrip("/")
        self.token = token or os.environ.get(TOKEN_ENV, "")
        if not self.token:
            raise ValueError(f"Expected a gateway token (--token or ${TOKEN_ENV}).")
        self.timeout_s = timeout_s

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: Mapping[str, str] | None = None) -> bytes:
        req = urllib.request.Request(self.url + path, data=body, method=method, headers={
            "Authorization": f"Bearer {self.token}", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as reply:
                return reply.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError, KeyError, TypeError):
                detail = json.loads(detail)["detail"]
            kind = _ERRORS.get(exc.code, TspCeleryError)
            raise kind(f"gateway answered {exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise ClusterError(f"cannot reach the gateway at {self.url}: {exc.reason}") from exc

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return json.loads(self._request(method, path, **kwargs))

    def submit_text(self, data: bytes, options: Mapping[str, Any]) -> dict[str, Any]:
        """Queue an instance file's bytes (TSPLIB, coordinates, or gzip of either)."""
        query = urllib.parse.urlencode({k: str(v).lower() if isinstance(v, bool) else v
                                        for k, v in options.items() if v is not None})
        return self._json("POST", f"/jobs?{query}", body=data,
                          headers={"Content-Type": "text/plain"})

    def submit(self, problem: Problem, options: Mapping[str, Any]) -> dict[str, Any]:
        """Queue a Problem, sent as JSON coordinates or matrix."""
        doc: dict[str, Any] = {"name": problem.name,
                               **{k: v for k, v in options.items() if v is not None}}
        if problem.matrix is not None:
            doc["matrix"] = problem.matrix.tolist()
        else:
            assert problem.coords is not None
            doc["coords"] = problem.coords.tolist()
            doc["edge_weight_type"] = problem.edge_weight_type
        return self._json("POST", "/jobs", body=json.dumps(doc).encode(),
                          headers={"Content-Type": "application/json"})

    def status(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/jobs/{job_id}")

    def result(self, job_id: str) -> Result:
        return Result.from_dict(self._json("GET", f"/jobs/{job_id}/tour"))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._json("DELETE", f"/jobs/{job_id}")

    def wait(self, job_id: str, on_progress: Callable[[dict], None] | None = None,
             poll_s: float = 0.5) -> dict[str, Any]:
        """Poll until the job is final; JobFailedError when it failed."""
        while True:
            status = self.status(job_id)
            if on_progress is not None:
                on_progress(status)
            if status["status"] in _FINAL:
                break
            time.sleep(poll_s)
        if status["status"] == "failed":
            raise JobFailedError(f"job {job_id} failed: {status.get('error') or 'no reason'}")
        return status

    def solve(self, problem: Problem, options: Mapping[str, Any],
              on_progress: Callable[[dict], None] | None = None) -> Result:
        """Submit, wait for the end, return the Result."""
        job_id = self.submit(problem, options)["job_id"]
        self.wait(job_id, on_progress)
        return self.result(job_id)


def submit_file(url: str, token: str | None, path: str, options: Mapping[str, Any]) -> dict:
    """``tsp-celery submit --gateway``: the file's bytes as they are (the gateway parses them)."""
    from pathlib import Path

    from tsp_celery.problem.textfile import read_text

    read_text(path)  # a missing, empty or binary file fails here, before anything is sent
    try:
        client = GatewayClient(url, token)
    except ValueError as exc:
        raise TspCeleryError(str(exc)) from exc
    return client.submit_text(Path(path).read_bytes(), options)
