"""The Python API: three lines from a file to a near-optimal tour.

    from tsp_celery import load, solve
    result = solve(load("examples/berlin52.tsp"), time=5)
    print(result.summary())
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from tsp_celery.local import ProgressCallback, solve_local
from tsp_celery.problem import Problem, known_optimum
from tsp_celery.result import Result


def load(path: str | os.PathLike[str]) -> Problem:
    """Read an instance: TSPLIB ``.tsp`` (any symmetric type) or a plain coordinate file."""
    from tsp_celery.problem import load_problem

    return load_problem(path)


def solve(
    problem: Problem,
    time: float = 10.0,
    workers: int | None = None,
    seed: int | None = None,
    target: float | None = None,
    cluster: str | None = None,
    on_progress: ProgressCallback | None = None,
    merge: bool = True,
    gateway: str | None = None,
    token: str | None = None,
) -> Result:
    """Solve ``problem`` within about ``time`` seconds and return the best tour found.

    Embedded by default (``workers`` local processes, all cores when None). With ``cluster`` (a
    Redis URL such as ``redis://host:6379/0``; ``""`` for ``TSP_CELERY_REDIS_URL``) the job runs
    on the Celery cluster behind that Redis instead. ``seed=None`` draws one, reported in
    ``Result.seed``; ``target`` (a known optimum) stops the search once reached. ``Result.gap_pct``
    is filled from ``target``, or from TSPLIB's published optimum for a TSPLIB instance.
    ``merge=False`` turns tour merging off (each round keeps its shortest run as it is), to
    measure what merging adds. With ``gateway`` (an HTTP URL of ``tsp-celery gateway``) the job
    goes through that gateway with ``token`` (default: $TSP_CELERY_GATEWAY_TOKEN) instead.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"Expected a Problem (see tsp_celery.load), got {type(problem).__name__}.")
    if seed is None:
        seed = secrets.randbelow(2**31)
    if gateway is not None:
        from tsp_celery.gateway.http_client import GatewayClient

        result = GatewayClient(gateway, token).solve(
            problem, {"time": time, "seed": seed, "target": target, "merge": merge}, on_progress)
    elif cluster is None:
        result = solve_local(problem, time_s=time, workers=workers, seed=seed, target=target,
                             on_progress=on_progress, merge=merge)
    else:
        result = _solve_on_cluster(problem, cluster, time, seed, target, on_progress, merge)
    if result.optimum is None:  # a TSPLIB instance with a published optimum: report the gap
        result.optimum = known_optimum(problem.name, problem.n)
    return result


def _solve_on_cluster(problem: Problem, url: str, time: float, seed: int,
                      target: float | None, on_progress: ProgressCallback | None,
                      merge: bool) -> Result:
    from tsp_celery.cluster.client import ClusterClient
    from tsp_celery.settings import Settings

    params: dict[str, Any] = {"time_s": time, "seed": seed, "target": target, "merge": merge}
    client = ClusterClient(Settings.from_env(redis_url=url or None))
    return client.solve(problem, params, on_progress)
