"""The gateway's wire shapes: submit options, JSON instances and the documents it answers with.

They exist for validation and for the OpenAPI description; the cluster's own dicts
(``ClusterClient.status``, ``Result.to_dict``, ``Event.to_dict``) stay the source of the fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tsp_celery.cluster.job import JobParams
from tsp_celery.problem.distance import FLOAT_EUCLIDEAN


class JobOptions(BaseModel):
    """The options of ``tsp-celery submit``, as query parameters or in a JSON body."""

    model_config = ConfigDict(extra="forbid")

    time: float = Field(10.0, gt=0, description="Time budget in seconds (from admission).")
    target: float | None = Field(None, gt=0, description="Stop once a tour this short is found.")
    priority: int = Field(0, description="Higher runs first when jobs queue.")
    seed: int | None = Field(None, ge=0, description="Seed (default: random, reported back).")
    stall_rounds: int | None = Field(None, ge=1,
                                     description="Stop after this many rounds without gain.")
    bound: bool = Field(False, description="Compute a Held-Karp lower bound too.")
    merge: bool = Field(True, description="Merge each round's tours with the elite pool.")

    def params(self, seed: int) -> JobParams:
        """The cluster's JobParams, with ``seed`` used when none was asked for."""
        return JobParams(time_s=self.time, target=self.target, priority=self.priority,
                         seed=self.seed if self.seed is not None else seed,
                         stall_rounds=self.stall_rounds, bound=self.bound, merge=self.merge)


class JsonInstance(JobOptions):
    """An instance as JSON: ``coords`` (n x 2 or n x 3) or a full symmetric ``matrix``."""

    name: str = Field("api", max_length=200)
    coords: list[list[float]] | None = None
    matrix: list[list[float]] | None = None
    edge_weight_type: str = Field(FLOAT_EUCLIDEAN, description="TSPLIB type for ``coords``; "
                                  f"{FLOAT_EUCLIDEAN} means unrounded Euclidean.")


class Submitted(BaseModel):
    job_id: str
    status: str
    n: int
    seed: int
    warning: str | None = Field(None, description="Why the job may wait (no coordinator/worker).")


class JobView(BaseModel):
    """``ClusterClient.status`` plus the optimum the gap is measured against and the bound."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    name: str
    n: int | None
    best_length: int | float | None
    gap_pct: float | None
    optimum: int | float | None
    lower_bound: int | float | None
    lower_bound_proven: bool
    round: int
    rounds_done: int
    elapsed: float
    time_s: float
    error: str | None


class TourDocument(BaseModel):
    """``Result.to_dict`` of the job (tour as 0-based node indices) and an optional drawing path."""

    model_config = ConfigDict(extra="allow")

    tour: list[int]
    length: int | float
    trace: list[list[float]]
    path: list[list[float]] | None = Field(
        None, description="With ?points=K: at most K coordinates along the tour (every k-th "
                          "node), for drawing; null when the instance has no coordinates.")


class EventDocument(BaseModel):
    id: str
    job_id: str
    type: str
    node: str
    lamport: int
    wall: float
    data: dict[str, Any]


class Cancelled(BaseModel):
    job_id: str
    status: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    redis: bool
    leader: str | None
    workers: int


class ErrorDocument(BaseModel):
    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorDocument, "description": text} for code, text in (
        (400, "Malformed body or instance"), (401, "Missing or unknown token"),
        (404, "No such job for this token"), (413, "Body or instance over a limit"),
        (422, "Option over a limit or out of range"), (429, "Too many active jobs"))
}
