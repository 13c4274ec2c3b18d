"""Cluster state read from Redis at scrape time: jobs, totals, leader, queues, workers.

Nothing here needs a hook in the code that changes the state, so it stays true whoever wrote
it (a client, a worker, another coordinator) and across restarts. Every coordinator exports
it, leader or standby; aggregate with ``max`` across instances (the alert rules do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tsp_celery.cluster.celery_config import MERGE_QUEUE, SOLVE_QUEUE
from tsp_celery.cluster.job import JobStatus, parse_record
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.workers import live_workers
from tsp_celery.problem.optima import known_optimum

# Event type -> (counter name without _total, help). Counted by the event-append script itself
# (``EventLog.append``), so each is exact and cluster-wide.
EVENT_COUNTERS = {
    "submitted": ("tsp_celery_jobs_submitted", "Jobs submitted."),
    "done": ("tsp_celery_jobs_completed", "Jobs that ended done (with a tour)."),
    "failed": ("tsp_celery_jobs_failed", "Jobs that ended failed."),
    "cancelled": ("tsp_celery_jobs_cancelled", "Jobs cancelled (queued or running)."),
    "round_planned": ("tsp_celery_rounds_planned", "Rounds planned by a leader."),
    "round_merged": ("tsp_celery_rounds_merged", "Rounds closed (by the chord or a deadline)."),
    "unit_finished": ("tsp_celery_units_succeeded", "Units that stored a result."),
    "unit_failed": ("tsp_celery_units_failed", "Units that failed (error, bad payload, gave up)."),
    "unit_lost": ("tsp_celery_units_lost", "Units missing when their round closed."),
    "improved": ("tsp_celery_best_improvements", "Commits of a strictly shorter best tour."),
    "leader_changed": ("tsp_celery_jobs_taken_over",
                       "Active jobs a new leader took over (one per job per failover)."),
}
_JOB = ["job_id", "name"]
# key -> (gauge name, help, labels), all read at scrape time.
GAUGES = {
    "jobs": ("tsp_celery_jobs", "Jobs queued or running now, by state.", ["state"]),
    "leading": ("tsp_celery_coordinator_is_leader", "1 while this coordinator leads, else 0.",
                ["node"]),
    "lease_held": ("tsp_celery_leader_lease_held",
                   "1 while some coordinator holds the lease in Redis.", []),
    "term": ("tsp_celery_leader_term", "The fencing term: bumped on every lease acquisition.",
             []),
    "queue": ("tsp_celery_queue_messages", "Messages waiting in a Celery queue (all priorities).",
              ["queue"]),
    "events": ("tsp_celery_event_log_entries",
               "Entries in the event logs of the active jobs, together.", []),
    "events_max": ("tsp_celery_event_log_max_entries",
                   "Entries in the longest event log of an active job.", []),
    "workers": ("tsp_celery_workers_alive", "Workers whose heartbeat key is alive.", []),
    "slots": ("tsp_celery_worker_slots_alive", "Worker processes (slots) of the live workers.",
              []),
    "best": ("tsp_celery_job_best_length",
             "Best tour length of a running job (running jobs only: bounded).", _JOB),
    "reference": ("tsp_celery_job_reference_length",
                  "Target or known optimum of a running job, for its gap.", _JOB),
    "deadline": ("tsp_celery_job_deadline_timestamp_seconds",
                 "When a running job's time budget ends (Unix time).", _JOB),
}
# kombu keeps priorities 3, 6 and 9 of a queue in extra lists named queue + sep + priority.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
QUEUES = (SOLVE_QUEUE, MERGE_QUEUE)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClusterCollector(Collector):
    """Reads one deployment's Redis on each scrape (a few pipelined round trips)."""

    def __init__(self, redis, keys: Keys, node_id: str, is_leader: Callable[[], bool]) -> None:
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self.is_leader = is_leader

    def describe(self) -> Iterator[Metric]:
        """The families without samples: scraping must not hit Redis at registration."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._read())

    def _read(self) -> dict:
        k = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(k.event_totals())
        pipe.zcard(k.jobs_queued())
        pipe.smembers(k.jobs_active())
        pipe.get(k.lease())
        pipe.get(k.term())
        for queue in QUEUES:
            for suffix in _PRIORITY_SUFFIXES:
                pipe.llen(f"{k.prefix}:celery:{queue}{suffix}")
        out = pipe.execute()
        totals, queued, active, lease, term = out[:5]
        depths = out[5:]
        active_ids = sorted(_text(a) for a in active)
        pipe = self.redis.pipeline(transaction=False)
        for job_id in active_ids:
            pipe.hgetall(k.job(job_id))
            pipe.xlen(k.job_events(job_id))
        raw = pipe.execute() if active_ids else []
        n = len(_PRIORITY_SUFFIXES)
        return {
            "totals": {_text(t): int(v) for t, v in totals.items()},
            "queued": int(queued),
            "records": [parse_record(r) for r in raw[0::2] if r],
            "event_lengths": [int(x) for x in raw[1::2]],
            "lease_held": lease is not None,
            "term": int(term or 0),
            "queues": {q: sum(depths[i * n:(i + 1) * n]) for i, q in enumerate(QUEUES)},
            "workers": live_workers(self.redis, k),
        }

    def _families(self, s: dict | None = None) -> Iterator[Metric]:
        for event, (name, text) in EVENT_COUNTERS.items():
            family = CounterMetricFamily(name, text)
            if s is not None:
                family.add_metric([], s["totals"].get(event, 0))
            yield family
        g = {key: GaugeMetricFamily(name, text, labels=labels)
             for key, (name, text, labels) in GAUGES.items()}
        if s is not None:
            running = [r for r in s["records"] if r["status"] == JobStatus.RUNNING.value]
            g["jobs"].add_metric([JobStatus.QUEUED.value], s["queued"])
            g["jobs"].add_metric([JobStatus.RUNNING.value], len(running))
            g["leading"].add_metric([self.node_id], float(self.is_leader()))
            g["lease_held"].add_metric([], float(s["lease_held"]))
            g["term"].add_metric([], s["term"])
            for name, depth in s["queues"].items():
                g["queue"].add_metric([name], depth)
            g["events"].add_metric([], sum(s["event_lengths"]))
            g["events_max"].add_metric([], max(s["event_lengths"], default=0))
            g["workers"].add_metric([], len(s["workers"]))
            g["slots"].add_metric([], sum(int(w.get("slots", 1)) for w in s["workers"]))
            for rec in running:
                labels = [rec["job_id"], str(rec.get("name") or "")]
                if rec.get("best_length") is not None:
                    g["best"].add_metric(labels, float(rec["best_length"]))
                reference = (rec["params"].get("target")
                             or known_optimum(rec.get("name") or "", rec.get("n") or 0))
                if reference:
                    g["reference"].add_metric(labels, float(reference))
                if rec.get("admitted_at"):
                    g["deadline"].add_metric(labels, rec["admitted_at"]
                                        + float(rec["params"].get("time_s", 0.0)))
        yield from g.values()
