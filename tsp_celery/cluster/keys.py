"""The one written key schema: every Redis key the project uses is built here, under one prefix.

Job keys put the job id in a hash tag (``{id}``) so that all of a job's keys land in one slot if
Redis Cluster is ever used, and one Lua script may touch them together.
"""

from __future__ import annotations


class Keys:
    """Builders for every key, namespaced under ``prefix``."""

    def __init__(self, prefix: str = "tspc") -> None:
        self.prefix = prefix

    # -- instances (shared by jobs, stored once under their content hash) ---------------------
    def instance(self, content_hash: str) -> str:
        return f"{self.prefix}:instance:{content_hash}"

    def bound(self, content_hash: str) -> str:
        """Cached Held-Karp lower bound of an instance."""
        return f"{self.prefix}:bound:{content_hash}"

    # -- jobs -----------------------------------------------------------------------------------
    def job(self, job_id: str) -> str:
        """Hash: the job record (status, params, best length, round, timings, error)."""
        return f"{self.prefix}:job:{{{job_id}}}"

    def job_best_tour(self, job_id: str) -> str:
        """String: the committed best tour as int32 bytes."""
        return f"{self.prefix}:job:{{{job_id}}}:best"

    def job_elite(self, job_id: str) -> str:
        """Sorted set: the elite pool, int32 tour bytes scored by length (shortest first)."""
        return f"{self.prefix}:job:{{{job_id}}}:elite"

    def job_units(self, job_id: str, round_no: int) -> str:
        """Hash: unit id -> JSON summary of that unit's result, first write wins (HSETNX)."""
        return f"{self.prefix}:job:{{{job_id}}}:round:{round_no}:units"

    def unit_tour(self, job_id: str, unit_id: str) -> str:
        """String: a unit's tour (or improved segment) as int32 bytes."""
        return f"{self.prefix}:job:{{{job_id}}}:unit:{unit_id}:tour"

    def initial_part(self, job_id: str, index: int) -> str:
        """String: one part's closed tour (int32 bytes) while the first tour is assembled."""
        return f"{self.prefix}:job:{{{job_id}}}:part:{index}:tour"

    def round_base(self, job_id: str, round_no: int) -> str:
        """String: the best tour when a round was planned (its segments are cut from it)."""
        return f"{self.prefix}:job:{{{job_id}}}:round:{round_no}:base"

    def job_rounds(self, job_id: str) -> str:
        """Hash: round number -> JSON of the round plan and its outcome."""
        return f"{self.prefix}:job:{{{job_id}}}:rounds"

    def job_events(self, job_id: str) -> str:
        """Stream: the job's Lamport-stamped event log."""
        return f"{self.prefix}:job:{{{job_id}}}:events"

    def job_lock(self, job_id: str) -> str:
        """String: fenced mutex for multi-step critical sections on one job."""
        return f"{self.prefix}:job:{{{job_id}}}:lock"

    def job_pattern(self, job_id: str) -> str:
        """Pattern matching every key of one job (for expiry and deletion)."""
        return f"{self.prefix}:job:{{{job_id}}}*"

    def jobs(self) -> str:
        """Sorted set: every job id, scored by submission time."""
        return f"{self.prefix}:jobs"

    def jobs_queued(self) -> str:
        """Sorted set: queued job ids, scored so that higher priority and older come first."""
        return f"{self.prefix}:jobs:queued"

    def jobs_active(self) -> str:
        """Set: ids of admitted jobs that are not final."""
        return f"{self.prefix}:jobs:active"

    def event_totals(self) -> str:
        """Hash: event type -> events appended so far, cluster-wide (the metrics' counters)."""
        return f"{self.prefix}:metrics:events"

    def wake(self) -> str:
        """List of at most one element: pushed after an event the leader acts on at once (a
        submission, a unit's end, a merge); the leader's loop blocks on it between turns."""
        return f"{self.prefix}:leader:wake"

    def limits(self) -> str:
        """Hash: the deployment's limits, published by coordinators, read by SUBMIT."""
        return f"{self.prefix}:config:limits"

    # -- leadership -----------------------------------------------------------------------------
    def epoch(self) -> str:
        """String: the store's random epoch id, created with the store (its first write). A
        Redis that restarts without its data gets a new one, so old fences and job ids show."""
        return f"{self.prefix}:epoch"

    def replication_mark(self) -> str:
        """String: written right before a WAIT, so the WAIT covers every earlier write."""
        return f"{self.prefix}:replication-mark"

    def lease(self) -> str:
        """String with PX: "<node_id>:<epoch>:<term>" of the current leader (the fence)."""
        return f"{self.prefix}:leader:lease"

    def term(self) -> str:
        """Counter: the fencing token, incremented on every acquisition."""
        return f"{self.prefix}:leader:term"

    def leader_info(self) -> str:
        """Hash: leader node id, term, acquired_at, renewed_at (for `tsp-celery cluster`)."""
        return f"{self.prefix}:leader:info"

    def coordinators(self) -> str:
        """Hash: coordinator node id -> JSON heartbeat (priority, role, seen_at)."""
        return f"{self.prefix}:coordinators"

    # -- workers --------------------------------------------------------------------------------
    def worker(self, worker_id: str) -> str:
        """String with TTL: one worker process's heartbeat (JSON: host, pid, slots, unit)."""
        return f"{self.prefix}:worker:{worker_id}"

    def workers(self) -> str:
        """Sorted set: worker id -> last heartbeat time (finds live workers without SCAN)."""
        return f"{self.prefix}:workers"

    def worker_pattern(self) -> str:
        return f"{self.prefix}:worker:*"

    def attempts(self, task_id: str) -> str:
        """Hash: runs of one Celery task started and finished (a unit that kills its worker)."""
        return f"{self.prefix}:attempts:{task_id}"

    # -- gateway (HTTP API) ---------------------------------------------------------------------
    def gateway_token(self, token_id: str) -> str:
        """Hash: one API token's name, secret digest (never the secret) and limits."""
        return f"{self.prefix}:gateway:token:{token_id}"

    def gateway_tokens(self) -> str:
        """Sorted set: every API token id, scored by creation time."""
        return f"{self.prefix}:gateway:tokens"

    def gateway_token_jobs(self, token_id: str) -> str:
        """Sorted set: the job ids submitted with one token, scored by submission time."""
        return f"{self.prefix}:gateway:token:{token_id}:jobs"

    def gateway_token_active(self, token_id: str) -> str:
        """Set: the token's job ids not yet seen final (its active-jobs quota counts these)."""
        return f"{self.prefix}:gateway:token:{token_id}:active"
