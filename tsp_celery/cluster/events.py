"""Per-job event log: a Redis Stream of Lamport-stamped events, read back in causal order.

Stream ids give the order in which Redis saw the appends; the Lamport stamp gives the causal
order across nodes (a worker's "unit started" may reach Redis after the coordinator's next event
yet still be caused by an earlier one). ``read`` therefore sorts by (lamport, node).

State changes a leader makes together with an event go through one fenced script
(``append(..., fence=..., record=...)``): the lease check, the job-record HSET and the XADD happen
atomically, so a deposed leader can neither change state nor leave a misleading event behind.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum

from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lamport import LamportClock
from tsp_celery.cluster.lease import OPTIONAL_FENCE_CHECK_LUA, call_fenced, parse_fence

log = logging.getLogger(__name__)


class EventType(str, Enum):
    SUBMITTED = "submitted"
    ADMITTED = "admitted"
    ROUND_PLANNED = "round_planned"
    UNIT_STARTED = "unit_started"
    UNIT_FINISHED = "unit_finished"
    IMPROVED = "improved"
    ROUND_MERGED = "round_merged"
    LEADER_CHANGED = "leader_changed"
    UNIT_LOST = "unit_lost"
    UNIT_FAILED = "unit_failed"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_EVENTS = frozenset({EventType.DONE, EventType.FAILED, EventType.CANCELLED})
# Events after which the leader has work to do at once (admit a job, close a round whose units
# are in, plan the next round): appending one wakes its loop (``wake_leader``) instead of
# leaving it to the next timed turn.
WAKE_EVENTS = frozenset({EventType.SUBMITTED, EventType.UNIT_FINISHED, EventType.UNIT_FAILED,
                         EventType.ROUND_MERGED, EventType.CANCELLED})
# Wakes the leader: the list holds at most one element, however many wake-ups pile up.
WAKE_LUA = """
local function wake(key)
  redis.call('RPUSH', key, '1')
  redis.call('LTRIM', key, -1, -1)
end
"""

# Appends one event to a job's stream (at most ``maxlen`` kept, roughly) and returns its id.
# Keeps the highest stamp in the record's 'lamport_max' (if the record exists), so a new leader
# reads it in O(1) instead of the whole log. Counting the event in the same script makes the
# metrics' totals exact: one count per appended event.
EVENT_LUA = """
local function add_event(stream, job, totals, maxlen, kind, node, lamport, wall, data)
  redis.call('HINCRBY', totals, kind, 1)
  if redis.call('EXISTS', job) == 1 and
     tonumber(lamport) > tonumber(redis.call('HGET', job, 'lamport_max') or '0') then
    redis.call('HSET', job, 'lamport_max', lamport)
  end
  return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'type', kind, 'node', node,
                    'lamport', lamport, 'wall', wall, 'data', data)
end
"""

# The event a store script was given (``ScriptEvent.args`` from ARGV[a]: maxlen, type, node,
# lamport, wall, data, wake; ``script_event_keys`` from KEYS[k]: stream, totals, wake list),
# appended for the job record ``job``, its data extended by ``fields`` (optional: JSON members
# the script decides, '"name":value,...'). Returns its stream id, '' when the script got none.
SCRIPT_EVENT_LUA = WAKE_LUA + EVENT_LUA + """
local function with_fields(object, fields)
  if object == '{}' then return '{' .. fields .. '}' end
  return string.sub(object, 1, -2) .. ',' .. fields .. '}'
end

local function script_event(job, k, a, fields)
  if ARGV[a] == '' then return '' end
  if ARGV[a + 6] == '1' then wake(KEYS[k + 2]) end
  local data = ARGV[a + 5]
  if fields then data = with_fields(data, fields) end
  return add_event(KEYS[k], job, KEYS[k + 1], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3],
                   ARGV[a + 4], data)
end
"""

# KEYS: lease, stream, job record, event totals (hash), leader wake list. ARGV: fence ('' =
# unfenced), maxlen, type, node, lamport, wall, data JSON, wake ('1' = wake the leader), then
# field/value pairs to HSET on the job record.
# Returns the stream id, or a FENCED error when the lease is not exactly `fence`.
_APPEND = OPTIONAL_FENCE_CHECK_LUA + WAKE_LUA + EVENT_LUA + """
if ARGV[8] == '1' then wake(KEYS[5]) end
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
return add_event(KEYS[2], KEYS[3], KEYS[4], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
"""


_WAKE_KINDS = frozenset(e.value for e in WAKE_EVENTS)


def event_data(data: dict | None) -> str:
    """An event's data as stored in its stream entry."""
    return json.dumps(data or {}, separators=(",", ":"))


def wake_leader(redis, keys: Keys) -> None:
    """Wake the leader's loop now (a write it acts on that logs no event, e.g. a cancel)."""
    redis.eval(WAKE_LUA + "wake(KEYS[1])", 1, keys.wake())


def wait_for_wake(redis, keys: Keys, timeout_s: float) -> bool:
    """Block until woken or ``timeout_s`` passed; True if woken."""
    return redis.blpop([keys.wake()], timeout=timeout_s) is not None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def log_event(job_id: str, kind: str, node: str, lamport: int, fence: str | None) -> None:
    """The log line of an appended event."""
    log.info("job %s: %s", job_id, kind,
             extra={"job": job_id, "event": kind, "node": node, "lamport": int(lamport),
                    "term": parse_fence(fence).term if fence else None})


@dataclass(frozen=True)
class ScriptEvent:
    """An event a fenced store script appends with its own change (ADMIT, PLAN_ROUND, FINISH,
    UNIT_FINISH): the change and its event are atomic, and the writer pays one round trip for
    both."""

    kind: str
    node: str
    lamport: int
    data: dict
    maxlen: int

    @staticmethod
    def args(event: ScriptEvent | None) -> list[object]:
        """The script's event arguments (empty ones for none: SCRIPT_EVENT_LUA)."""
        if event is None:
            return [""] * 7
        return [event.maxlen, event.kind, event.node, int(event.lamport), f"{time.time():.6f}",
                event_data(event.data), "1" if event.kind in _WAKE_KINDS else "0"]

    def logged(self, job_id: str, fence: str | None) -> None:
        log_event(job_id, self.kind, self.node, self.lamport, fence)


def script_event_keys(keys: Keys, job_id: str) -> list[str]:
    """The keys SCRIPT_EVENT_LUA writes for a job's event."""
    return [keys.job_events(job_id), keys.event_totals(), keys.wake()]


@dataclass(frozen=True)
class Event:
    """One entry of a job's log. ``type`` is an EventType, or the raw text of an unknown type."""

    id: str
    job_id: str
    type: EventType | str
    node: str
    lamport: int
    wall: float
    data: dict = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (self.lamport, self.node, self.id)

    def to_dict(self) -> dict:
        kind = self.type.value if isinstance(self.type, EventType) else self.type
        return {"id": self.id, "job_id": self.job_id, "type": kind, "node": self.node,
                "lamport": self.lamport, "wall": self.wall, "data": self.data}

    @classmethod
    def from_entry(cls, job_id: str, entry_id: object, fields: Mapping) -> Event:
        """Parse a stream entry; a malformed one still parses (readers must never crash on it)."""
        f = {_text(k): _text(v) for k, v in fields.items()}
        try:
            kind: EventType | str = EventType(f.get("type", ""))
        except ValueError:
            kind = f.get("type", "")
        try:
            data = json.loads(f.get("data") or "{}")
            data = data if isinstance(data, dict) else {"value": data}
        except ValueError:
            data = {"raw": f.get("data")}
        try:
            lamport = int(f.get("lamport", 0))
        except ValueError:
            lamport = 0
        try:
            wall = float(f.get("wall", 0.0))
        except ValueError:
            wall = 0.0
        return cls(_text(entry_id), job_id, kind, f.get("node", ""), lamport, wall, data)


class EventLog:
    """Append to and read the per-job event streams (bounded by ``MAXLEN ~ maxlen``)."""

    def __init__(self, redis, keys: Keys, maxlen: int = 10_000) -> None:
        if maxlen < 1:
            raise ValueError("Expected maxlen >= 1.")
        self.redis = redis
        self.keys = keys
        self.maxlen = int(maxlen)
        self._append = redis.register_script(_APPEND)

    def append(self, job_id: str, type: EventType | str, node: str, lamport: int,
               data: dict | None = None, *, fence: str | None = None,
               record: Mapping[str, object] | None = None) -> str:
        """Append one event; returns its stream id.

        With ``fence``, the append (and the ``record`` fields HSET on the job record, if given)
        happens only while the lease value is exactly ``fence``; else FencedWriteError.
        """
        kind = type.value if isinstance(type, EventType) else str(type)
        args: list[object] = [fence or "", self.maxlen, kind, node, int(lamport),
                              f"{time.time():.6f}", event_data(data),
                              "1" if kind in _WAKE_KINDS else "0"]
        for name, value in (record or {}).items():
            args += [name, value if isinstance(value, (str, bytes, int, float)) else
                     json.dumps(value)]
        keys = [self.keys.lease(), self.keys.job_events(job_id), self.keys.job(job_id),
                self.keys.event_totals(), self.keys.wake()]
        entry_id = _text(call_fenced(self._append, keys, args, fence))
        log_event(job_id, kind, node, lamport, fence)
        return entry_id

    def emit(self, job_id: str, type: EventType | str, clock: LamportClock,
             data: dict | None = None, **kwargs: object) -> str:
        """Append a local event of ``clock``'s node, stamped with a fresh tick."""
        return self.append(job_id, type, clock.node_id, clock.tick(), data, **kwargs)

    def stamp(self, type: EventType, clock: LamportClock, data: dict) -> ScriptEvent:
        """A local event of ``clock``'s node (a fresh tick) for a store script to append."""
        return ScriptEvent(type.value, clock.node_id, clock.tick(), data, self.maxlen)

    def read(self, job_id: str) -> list[Event]:
        """The whole retained log, in (lamport, node) order."""
        entries = self.redis.xrange(self.keys.job_events(job_id), "-", "+")
        return sorted((Event.from_entry(job_id, i, f) for i, f in entries),
                      key=lambda e: e.sort_key)

    def recent(self, job_id: str, count: int, since: str = "-") -> list[Event]:
        """The newest ``count`` events, newest first, none older than stream id ``since``: a
        bounded look back."""
        entries = self.redis.xrevrange(self.keys.job_events(job_id), "+", since or "-",
                                       count=count)
        return [Event.from_entry(job_id, i, f) for i, f in entries]

    def follow(self, job_id: str, block_ms: int = 1000, *,
               until_final: bool = True) -> Iterator[Event]:
        """The log so far in causal order, then new events as they arrive (XREAD BLOCK).

        With ``until_final`` the iterator ends after the job's done/failed/cancelled event.
        """
        stream = self.keys.job_events(job_id)
        last_id = "0-0"
        history = self.redis.xrange(stream, "-", "+")
        if history:
            last_id = _text(history[-1][0])
        events = sorted((Event.from_entry(job_id, i, f) for i, f in history),
                        key=lambda e: e.sort_key)
        for event in events:
            yield event
        if until_final and any(e.type in FINAL_EVENTS for e in events):
            return
        while True:
            reply = self.redis.xread({stream: last_id}, block=block_ms, count=100)
            for _name, entries in reply or []:
                for entry_id, fields in entries:
                    last_id = _text(entry_id)
                    event = Event.from_entry(job_id, entry_id, fields)
                    yield event
                    if until_final and event.type in FINAL_EVENTS:
                        return

    def max_lamport(self, job_id: str) -> int:
        """Highest stamp in the job's log (0 if empty): a new leader's clock starts past it.

        O(1) from the record's 'lamport_max'; only a record written before it existed makes
        this read the whole log."""
        stamp = self.redis.hget(self.keys.job(job_id), "lamport_max")
        if stamp is not None:
            return int(stamp)
        return max((e.lamport for e in self.read(job_id)), default=0)
