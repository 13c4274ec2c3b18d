"""Leader lease with a fencing token, and bully-style candidacy among coordinators.

One Redis key holds ``"<node_id>:<term>"`` with a server-side PX expiry. Acquiring bumps the term
counter in the same Lua script, so every leadership has a fresh token. Store writes compare the
*whole* value (not only the number): after a Redis failover the counter can roll back and repeat.

The coordinator renews from a thread of its own (so no work can starve the renewal; the
coordinator stops renewing when its work loop is wedged) and steps down locally as soon as a renew
is refused, or when the monotonic time since the last successful renew exceeds ``ttl - margin`` —
before Redis could hand the lease to someone else.
Candidates wait a delay that falls with their rank among live coordinators (bully semantics), so
the highest-priority live coordinator wins a vacancy; a sitting leader never yields mid-term.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from typing import NamedTuple

import redis as redis_lib

from tsp_celery.cluster.keys import Keys
from tsp_celery.errors import FencedWriteError

log = logging.getLogger(__name__)

# KEYS: lease, term, leader_info, epoch. ARGV: node_id, ttl_ms, now_s, priority, new epoch id.
# Creates the store's epoch if it has none (a new or wiped store). Returns the new lease value
# "<node_id>:<epoch>:<term>", or false when someone holds the lease.
_ACQUIRE = """
local epoch = redis.call('GET', KEYS[4])
if not epoch then
  epoch = ARGV[5]
  redis.call('SET', KEYS[4], epoch)
end
local term = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local value = ARGV[1] .. ':' .. epoch .. ':' .. term
if not redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2]) then return false end
redis.call('SET', KEYS[2], term)
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'node_id', ARGV[1], 'term', term, 'value', value,
           'acquired_at', ARGV[3], 'renewed_at', ARGV[3], 'ttl_ms', ARGV[2], 'priority', ARGV[4])
return value
"""

# KEYS: lease, leader_info, term. ARGV: value, ttl_ms, now_s, our term. Returns 1 if renewed, 0 if
# not ours, -1 if the term counter went below ours (a store rolled back: re-elect).
# The info update is a pcall: under maxmemory the HSET is refused (OOM) but PEXPIRE is not, and
# a leader must keep its lease through an OOM episode rather than leave the cluster leaderless.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[4]) then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.pcall('HSET', KEYS[2], 'renewed_at', ARGV[3])
return 1
"""

# KEYS: lease, leader_info. ARGV: value. Returns 1 if released, 0 if it was not ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[2], 'value') == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""

_REDIS_DOWN = (redis_lib.ConnectionError, redis_lib.TimeoutError)
# A coordinator not seen for this many lease TTLs is gone: the others drop its registry entry.
PRUNE_AFTER_TTLS = 10

# Paste at the top of any fenced script whose KEYS[1] is the lease and ARGV[1] the caller's fence;
# then call it through ``call_fenced``. An empty, malformed or stale fence is refused.
FENCE_CHECK_LUA = """
if not string.match(ARGV[1], '^[^:]+:[^:]+:%d+$') then
  return redis.error_reply('FENCED malformed fence "' .. ARGV[1] .. '"')
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED lease is not ' .. ARGV[1])
end
"""
# The same for scripts that workers and clients call too: '' there means "not a leader's write".
OPTIONAL_FENCE_CHECK_LUA = "if ARGV[1] ~= '' then\n" + FENCE_CHECK_LUA + "end\n"


def call_fenced(script, keys: list, args: list, fence: str | None = None):
    """Run a registered script that starts with FENCE_CHECK_LUA; FENCED becomes FencedWriteError."""
    try:
        return script(keys=keys, args=args)
    except redis_lib.ResponseError as exc:
        if str(exc).startswith("FENCED"):
            raise FencedWriteError(f"write refused: {fence or '?'} is no longer the leader's "
                                   f"lease") from exc
        raise


def new_epoch_id() -> str:
    """A random epoch id (8 hex digits), offered whenever a store may have none yet."""
    return uuid.uuid4().hex[:8]


def _decode(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Fence(NamedTuple):
    """A lease value, split: the leader's node id, the store's epoch, the term."""

    node_id: str
    epoch: str
    term: int


def parse_fence(value: str) -> Fence:
    """Split a lease value ``"<node_id>:<epoch>:<term>"``."""
    parts = value.split(":")
    if len(parts) != 3 or not all(parts) or not parts[2].isdigit():
        raise ValueError(f"Expected a lease value '<node_id>:<epoch>:<term>', got {value!r}.")
    return Fence(parts[0], parts[1], int(parts[2]))


class LeaderLease:
    """One coordinator's view of the leader lease: acquire, renew, release, and candidacy."""

    def __init__(self, redis, keys: Keys, node_id: str, priority: int, ttl_ms: int,
                 renew_ms: int, *, margin_ms: int | None = None) -> None:
        if ttl_ms <= 0 or renew_ms <= 0 or renew_ms * 2 > ttl_ms:
            raise ValueError("Expected 0 < renew_ms <= ttl_ms / 2.")
        if ":" in node_id or not node_id:
            raise ValueError(f"Expected a non-empty node id without ':', got {node_id!r}.")
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self.priority = int(priority)
        self.ttl_ms = int(ttl_ms)
        self.renew_ms = int(renew_ms)
        # Step down this long after the last good renew: before Redis expires the key, with room
        # for clock drift between us and Redis and for the latency of the renew call itself.
        self.margin_ms = int(margin_ms if margin_ms is not None else max(ttl_ms // 5, 50))
        self._value: str | None = None
        self._renewed_mono = 0.0
        self._candidate_at: float | None = None
        self._lock = threading.Lock()
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    # -- state ----------------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True while we hold the lease and our local deadline has not passed."""
        with self._lock:
            if self._value is None:
                return False
            if (time.monotonic() - self._renewed_mono) * 1000 >= self.ttl_ms - self.margin_ms:
                log.warning("lease %s not renewed in time: stepping down", self._value)
                self._value = None
                return False
            return True

    @property
    def fence(self) -> str | None:
        """The exact lease value to pass to fenced writes, or None when not leader."""
        return self._value if self.is_leader else None

    @property
    def term(self) -> int | None:
        fence = self.fence
        return parse_fence(fence).term if fence else None

    def step_down(self, reason: str = "") -> None:
        """Forget leadership locally (e.g. after a FencedWriteError); Redis keeps its own view."""
        with self._lock:
            if self._value is not None:
                log.warning("stepping down from %s%s", self._value, f": {reason}" if reason else "")
            self._value = None

    # -- the three scripts ----------------------------------------------------------------------
    def try_acquire(self) -> bool:
        """Take a vacant lease (SET NX PX and INCR term in one script); renew it if already ours."""
        if self.is_leader:
            return self.renew()
        started = time.monotonic()
        value = self._acquire(keys=[self.keys.lease(), self.keys.term(), self.keys.leader_info(),
                                    self.keys.epoch()],
                              args=[self.node_id, self.ttl_ms, f"{time.time():.3f}", self.priority,
                                    new_epoch_id()])
        if not value:
            return False
        with self._lock:
            self._value = _decode(value)
            self._renewed_mono = started
        log.info("acquired leader lease %s", self._value)
        return True

    def renew(self) -> bool:
        """Compare-and-PEXPIRE on our exact value. A refusal steps down at once.

        When Redis is unreachable we cannot know; we keep the lease until our local deadline,
        which ``is_leader`` enforces, so a restarting Redis does not cost a term needlessly.
        """
        if not self.is_leader:  # past our local deadline: never revive a term we gave up
            return False
        value = self._value
        if value is None:
            return False
        started = time.monotonic()
        try:
            ok = self._renew(keys=[self.keys.lease(), self.keys.leader_info(), self.keys.term()],
                             args=[value, self.ttl_ms, f"{time.time():.3f}",
                                   parse_fence(value).term])
        except _REDIS_DOWN as exc:
            log.warning("lease renew failed, Redis unreachable: %s", exc)
            return self.is_leader
        with self._lock:
            if self._value != value:
                return False
            if ok == 1:
                self._renewed_mono = started
                return True
        if ok == -1:
            self.step_down("the term counter went backwards (the store rolled back): re-electing")
        else:
            self.step_down(self._refusal_reason(value))
        return False

    def _refusal_reason(self, value: str) -> str:
        """Why our renew was refused: a lost store (new epoch), or another leader."""
        try:
            epoch = _decode(self.redis.get(self.keys.epoch()) or b"")
        except redis_lib.RedisError:
            epoch = ""
        if epoch != parse_fence(value).epoch:
            return (f"the store's epoch is now {epoch or 'unset'} (Redis restarted without its "
                    f"data): re-electing")
        return "renew refused, the lease is no longer ours"

    def release(self) -> None:
        """Compare-and-DEL: give the lease up (clean shutdown) without touching a successor's."""
        value = self._value
        self.step_down()
        if value is not None:
            try:
                self._release(keys=[self.keys.lease(), self.keys.leader_info()], args=[value])
            except _REDIS_DOWN as exc:
                log.warning("lease release failed, it will expire by itself: %s", exc)

    # -- candidacy ------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Register this coordinator (priority, role, last seen) so others and the CLI see it."""
        record = {"priority": self.priority, "role": "leader" if self.is_leader else "standby",
                  "seen_at": time.time(), "ttl_ms": self.ttl_ms,
                  "host": socket.gethostname(), "pid": os.getpid()}
        self.redis.hset(self.keys.coordinators(), self.node_id, json.dumps(record))
        prune_coordinators(self.redis, self.keys, PRUNE_AFTER_TTLS * self.ttl_ms / 1000.0)

    def candidate_delay_s(self) -> float:
        """Wait this long after seeing a vacancy: one renew interval per live higher-ranked peer.

        Rank is by (priority, node id) descending, so a live higher-priority coordinator always
        tries first, and equal priorities still get distinct slots (no jitter needed). The
        leader whose lease just lapsed does not count: a live leader would have renewed.
        """
        stale_s = self.ttl_ms / 1000.0
        lapsed = _decode(self.redis.hget(self.keys.leader_info(), "node_id") or b"")
        ahead = 0
        for node_id, record in read_coordinators(self.redis, self.keys, stale_s=stale_s).items():
            if node_id in (self.node_id, lapsed):  # the leader whose lease lapsed is not live
                continue
            if (record.get("priority", 0), node_id) > (self.priority, self.node_id):
                ahead += 1
        return ahead * self.renew_ms / 1000.0

    def step(self) -> bool:
        """One turn of the coordinator's loop (call every ``renew_ms``): renew or campaign.

        Returns whether we are leader afterwards. Redis errors propagate for the standby path so
        the caller's reconnect/backoff logic sees them; a leader's renew tolerates them.
        """
        if self._value is not None:
            leader = self.renew()
            self._safe_heartbeat()
            return leader
        self._safe_heartbeat()
        if self.redis.exists(self.keys.lease()):
            self._candidate_at = None
            return False
        now = time.monotonic()
        if self._candidate_at is None:  # first sight of the vacancy: our slot opens after a delay
            self._candidate_at = now + self.candidate_delay_s()
        if now < self._candidate_at:
            return False
        self._candidate_at = None
        return self.try_acquire()

    def _safe_heartbeat(self) -> None:
        try:
            self.heartbeat()
        except redis_lib.RedisError as exc:  # best effort: Redis down, OOM, read-only...
            log.debug("coordinator heartbeat failed: %s", exc)


def read_coordinators(redis, keys: Keys, stale_s: float | None = None) -> dict[str, dict]:
    """Registered coordinators: node id -> {priority, role, seen_at, ...}, newest view.

    With ``stale_s``, entries not seen for that long are left out. Only reads, so a health
    probe may run with a read-only Redis user; live coordinators prune the dead ones.
    """
    out: dict[str, dict] = {}
    now = time.time()
    for node_id, record in _coordinator_records(redis, keys):
        if stale_s is not None and now - float(record.get("seen_at", 0)) > stale_s:
            continue
        out[node_id] = record
    return out


def prune_coordinators(redis, keys: Keys, older_than_s: float) -> None:
    """Forget coordinators not seen for ``older_than_s`` (and unreadable entries)."""
    now = time.time()
    dead = [node_id for node_id, record in _coordinator_records(redis, keys, keep_bad=True)
            if record is None or now - float(record.get("seen_at", 0)) > older_than_s]
    if dead:
        redis.hdel(keys.coordinators(), *dead)


def _coordinator_records(redis, keys: Keys, keep_bad: bool = False):
    """(node id, record) pairs of the registry; unreadable records as None with ``keep_bad``."""
    for node, raw in redis.hgetall(keys.coordinators()).items():
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if record is not None or keep_bad:
            yield _decode(node), record


def read_leader(redis, keys: Keys) -> dict | None:
    """The current leader: node_id, term, value, renewed_at, acquired_at, ttl_ms_left; or None."""
    value = redis.get(keys.lease())
    if value is None:
        return None
    value = _decode(value)
    node_id, epoch, term = parse_fence(value)
    info = {_decode(k): _decode(v) for k, v in redis.hgetall(keys.leader_info()).items()}
    ttl_left = redis.pttl(keys.lease())
    same = info.get("value") == value
    return {
        "node_id": node_id,
        "epoch": epoch,
        "term": term,
        "value": value,
        "priority": int(info["priority"]) if same and "priority" in info else None,
        "acquired_at": float(info["acquired_at"]) if same and "acquired_at" in info else None,
        "renewed_at": float(info["renewed_at"]) if same and "renewed_at" in info else None,
        "ttl_ms_left": max(int(ttl_left), 0),
    }
