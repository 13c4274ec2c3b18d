"""Live worker slots for the planner, and the units of workers whose heartbeat stopped."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.workers import live_workers, total_slots

log = logging.getLogger(__name__)

# Re-read live worker slots at most this often.
SLOTS_REFRESH_S = 1.0
# At most this many of the newest events of a job with an open round are searched for the start
# of a unit on a worker just lost (those since the round was planned, when that is known).
STARTED_SCAN = 1000


class WorkerWatch:
    """Reads the heartbeats; ``open_rounds()`` (job id -> (open round, stream id of its
    round_planned event, '' after a takeover)) says whose start events may name a lost
    worker's units."""

    def __init__(self, redis, keys: Keys, events: EventLog,
                 open_rounds: Callable[[], Mapping[str, tuple[int, str]]]) -> None:
        self.redis, self.keys, self.events = redis, keys, events
        self.open_rounds = open_rounds
        self.lost_units: set[tuple[str, str]] = set()
        self._seen: dict[str, dict] = {}
        self._slots = (-SLOTS_REFRESH_S - 1.0, 0)

    def slots(self) -> int:
        """Live worker slots (cached for SLOTS_REFRESH_S); notes the units of lost workers."""
        at, value = self._slots
        if time.monotonic() - at > SLOTS_REFRESH_S:
            value = self.refresh()
        return value

    def refresh(self) -> int:
        """Read the heartbeats now."""
        workers = {str(w.get("worker")): w for w in live_workers(self.redis, self.keys)}
        self._note_lost(workers)
        value = total_slots(workers.values())
        self._slots = (time.monotonic(), value)
        return value

    def lost_units_of(self, job_id: str) -> set[str]:
        """Unit ids of ``job_id`` that were running on a worker now lost."""
        return {unit for job, unit in self.lost_units if job == job_id}

    def forget_job(self, job_id: str) -> None:
        self.lost_units = {u for u in self.lost_units if u[0] != job_id}

    def _note_lost(self, workers: dict[str, dict]) -> None:
        """A worker whose heartbeat stopped (killed, OOM, host lost) takes its running units
        with it: their messages come back only at the visibility timeout, so the rounds that
        wait for them are closed as soon as their other units are in (``lost_units``)."""
        for worker_id, last in self._seen.items():
            if worker_id in workers:
                continue
            units = {(u.get("job_id"), u.get("unit_id")) for u in last.get("units", [])
                     if u.get("unit_id")} | self._units_started_on(worker_id)
            log.warning("worker %s lost (heartbeat stopped)%s", worker_id,
                        f" with {len(units)} unit(s) running" if units else "")
            self.lost_units |= units
        self._seen = workers

    def _units_started_on(self, worker_id: str) -> set[tuple[str, str]]:
        """Units of open rounds whose start event names ``worker_id``: a unit started after
        the worker's last heartbeat is in no heartbeat, yet is gone with the worker. Only the
        events since the round was planned are read (the newest STARTED_SCAN after a takeover,
        which does not know where they begin)."""
        found = set()
        for job_id, (round_no, since) in self.open_rounds().items():
            for event in self.events.recent(job_id, STARTED_SCAN, since):
                data = event.data
                if (event.type == EventType.UNIT_STARTED and data.get("worker") == worker_id
                        and data.get("round") == round_no and data.get("unit")):
                    found.add((job_id, str(data["unit"])))
        return found
