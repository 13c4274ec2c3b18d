"""The Python API: three lines from a file to a near-optimal tour.

    from tsp_celery import load, solve
    result = solve(load("examples/berlin52.tsp"), time=5)
    print(result.summary())
"""

from __future__ import annotations

import os
import secrets

from tsp_celery.local import ProgressCallback, solve_local
from tsp_celery.plan.stop import AnyOf, MaxRuntime, StoppingCriterion, TargetLength
from tsp_celery.problem import Problem, known_optimum
from tsp_celery.result import Result

DEFAULT_TIME_S = 10.0


def load(path: str | os.PathLike[str]) -> Problem:
    """Read an instance: TSPLIB ``.tsp`` (any symmetric type) or a plain coordinate file."""
    from tsp_celery.problem import load_problem

    return load_problem(path)


def solve(
    problem: Problem,
    time: float | None = None,
    workers: int | None = None,
    seed: int | None = None,
    target: float | None = None,
    cluster: str | None = None,
    on_progress: ProgressCallback | None = None,
    merge: bool = True,
    gateway: str | None = None,
    token: str | None = None,
    stop: StoppingCriterion | None = None,
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
    ``stop`` adds stopping criteria (``MaxRuntime(30) | NoImprovement(rounds=5)``, see
    ``tsp_celery.plan.stop``), on every path; without ``time`` its MaxRuntime is the budget.
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"Expected a Problem (see tsp_celery.load), got {type(problem).__name__}.")
    if seed is None:
        seed = secrets.randbelow(2**31)
    criteria = _criteria(time, target, stop)
    limits = criteria.to_dict()  # the job record's stop fields, as a cluster stores them
    if gateway is not None:
        from tsp_celery.gateway.http_client import GatewayClient

        result = GatewayClient(gateway, token).solve(
            problem, {"time": limits["max_runtime"], "seed": seed, "target": limits.get("target"),
                      "stall_rounds": limits.get("no_improvement"), "merge": merge}, on_progress)
    elif cluster is None:
        result = solve_local(problem, time_s=limits["max_runtime"], workers=workers, seed=seed,
                             target=target, on_progress=on_progress, stop=stop, merge=merge)
    else:
        result = _solve_on_cluster(problem, cluster, criteria, seed, on_progress, merge)
    if result.optimum is None:  # a TSPLIB instance with a published optimum: report the gap
        result.optimum = known_optimum(problem.name, problem.n)
    return result


def _criteria(time: float | None, target: float | None,
              stop: StoppingCriterion | None) -> StoppingCriterion:
    """``time`` (default: the MaxRuntime in ``stop``, else 10 s), ``target`` and ``stop``."""
    if time is None:
        time = DEFAULT_TIME_S if stop is None or stop.time_limit is None else stop.time_limit
    found: list[StoppingCriterion] = [MaxRuntime(time)]
    if target is not None:
        found.append(TargetLength(target))
    return AnyOf([*found, *([] if stop is None else [stop])])


def _solve_on_cluster(problem: Problem, url: str, criteria: StoppingCriterion, seed: int,
                      on_progress: ProgressCallback | None, merge: bool) -> Result:
    from tsp_celery.cluster.client import ClusterClient
    from tsp_celery.cluster.job import JobParams
    from tsp_celery.settings import Settings

    params = JobParams.from_stop(criteria, seed=seed, merge=merge)
    client = ClusterClient(Settings.from_env(redis_url=url or None))
    return client.solve(problem, params, on_progress)
