"""Every metric a process records itself, defined once.

A coordinator serves ``COORDINATOR``; a Celery worker runs in prometheus_client's multiprocess
mode, so the same objects write to per-process files, of which the worker's exporter serves
the metrics of ``WORKER`` (see ``worker.py``). Labels are bounded: unit kinds, outcomes,
closers, error classes. Cluster-wide state (jobs, leader, queues, workers) is read from Redis
at scrape time instead (``cluster.py``), so it needs no hook and survives a restart.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

COORDINATOR = CollectorRegistry(auto_describe=True)
WORKER = CollectorRegistry(auto_describe=True)
GATEWAY = CollectorRegistry(auto_describe=True)

# Buckets kept short: in multiprocess mode every scrape merges buckets x label sets x processes.
_FAST_S = (0.001, 0.005, 0.02, 0.1, 0.5, 2.0)
_ROUND_S = (0.5, 2.0, 5.0, 15.0, 60.0, 300.0)
_UNIT_S = (0.1, 1.0, 5.0, 15.0, 60.0, 300.0)
_RSS_BYTES = tuple(float(mb << 20) for mb in (128, 256, 512, 1024, 2048, 4096))

# -- coordinator ------------------------------------------------------------------------------
lease_step_seconds = Histogram(
    "tsp_celery_lease_step_duration_seconds",
    "Time of one lease turn: renew while leading, campaign while standing by.",
    buckets=_FAST_S, registry=COORDINATOR)
leader_acquisitions = Counter(
    "tsp_celery_leader_acquisitions_total",
    "Times this coordinator became leader (each one is a failover or the first election).",
    registry=COORDINATOR)
recovery_seconds = Histogram(
    "tsp_celery_recovery_duration_seconds",
    "Time a new leader took to rebuild the active jobs from Redis.",
    buckets=_ROUND_S, registry=COORDINATOR)
units_dispatched = Counter(
    "tsp_celery_units_dispatched_total",
    "Work units sent to the solve queue by the leader.",
    registry=COORDINATOR)
round_seconds = Histogram(
    "tsp_celery_round_duration_seconds",
    "Time from planning a round to its close, by round kind.",
    ["kind"], buckets=_ROUND_S, registry=COORDINATOR)

# -- both: a round is merged by the chord body on a worker, or by the leader at its deadline;
# Redis fails under coordinators' lease turns and under workers' tasks alike ----------------
merge_seconds = Histogram(
    "tsp_celery_merge_duration_seconds",
    "Time to merge a round's units and commit the best, by who closed it.",
    ["closer"], buckets=_FAST_S, registry=COORDINATOR)
redis_errors = Counter(
    "tsp_celery_redis_errors_total",
    "Redis calls that failed because Redis was unreachable or timed out, by exception class.",
    ["error"], registry=COORDINATOR)
WORKER.register(merge_seconds)
WORKER.register(redis_errors)

# -- workers ----------------------------------------------------------------------------------
unit_seconds = Histogram(
    "tsp_celery_unit_duration_seconds",
    "Wall time of one solve_unit task on a worker, by unit kind.",
    ["kind"], buckets=_UNIT_S, registry=WORKER)
unit_outcomes = Counter(
    "tsp_celery_worker_units_total",
    "solve_unit tasks run on workers, by outcome (succeeded, failed, skipped, error).",
    ["outcome"], registry=WORKER)
unit_solver_seconds = Counter(
    "tsp_celery_unit_solver_seconds_total",
    "Time units spent inside the solver kernel.",
    ["kind"], registry=WORKER)
unit_overhead_seconds = Counter(
    "tsp_celery_unit_overhead_seconds_total",
    "Time units spent outside the solver: fetching the instance and tours, storing results.",
    ["kind"], registry=WORKER)
units_redelivered = Counter(
    "tsp_celery_units_redelivered_total",
    "solve_unit messages that arrived a second time (their worker died or the broker restored "
    "them).", registry=WORKER)
unit_peak_rss_bytes = Histogram(
    "tsp_celery_unit_peak_rss_bytes",
    "Peak resident memory of the worker process after a unit, by unit kind.",
    ["kind"], buckets=_RSS_BYTES, registry=WORKER)
units_in_progress = Gauge(
    "tsp_celery_worker_units_in_progress",
    "solve_unit tasks running now on live worker processes.",
    multiprocess_mode="livesum", registry=WORKER)


# -- gateway (labels: the route's template, never a job id, so they stay bounded) -------------
gateway_requests = Counter(
    "tsp_celery_gateway_requests",
    "HTTP requests the gateway answered, by method, route template and status code.",
    ["method", "route", "status"], registry=GATEWAY)
gateway_request_seconds = Histogram(
    "tsp_celery_gateway_request_duration_seconds",
    "Time to the response's first byte (an event stream counts until it starts).",
    ["method", "route"], buckets=_FAST_S, registry=GATEWAY)
