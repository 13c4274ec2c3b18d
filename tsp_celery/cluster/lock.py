"""A Redis mutex for multi-step critical sections, whose value carries the holder's fencing token.

Where it is used, and where a single atomic script is enough instead:

- **Lock** (``job_lock``): sections that read several keys, decide in Python and then write — they
  cannot be one Lua script. Recovery (``recovery.py``) holds the job's lock while it resumes a job
  after a takeover (read record, round plan, unit records, workers and broker; then close the
  round or leave it running), so two coordinators' recovery passes over one job never interleave
  during a flapping takeover, and a deposed leader cannot even start one.
- **Single scripts** (no lock), for every transition that fits in one Lua script
  (``scripts.py``, ``lease.py``, ``events.py``): lease acquire/renew/release; admission
  queued -> running and cancel (both atomic on the job record, so cancel never races admission);
  plan round and close round (close is once-only, so the merge task and the coordinator's deadline
  close need no lock between them); the best-tour compare-and-set; unit results first-write-wins;
  finish; fenced event appends with their record fields.

The value is ``"<fence or holder>#<nonce>"``: a leader takes the lock with its lease value, and the
acquire script refuses it unless that lease is still current — a deposed leader cannot even enter
the section. Release and extend compare the exact value, so an expired holder never frees or
prolongs a successor's lock.
"""

from __future__ import annotations

import time
import uuid

from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import OPTIONAL_FENCE_CHECK_LUA, call_fenced
from tsp_celery.errors import ClusterError

# KEYS: lease, lock. ARGV: fence ('' = unfenced holder), value, ttl_ms.
# Returns 1 if taken, 0 if held by someone else; FENCED error if `fence` is no longer the lease.
_ACQUIRE = OPTIONAL_FENCE_CHECK_LUA + """
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
return 0
"""

# KEYS: lock. ARGV: value, ttl_ms. Returns 1 if extended, 0 if the lock is not ours.
_EXTEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

# KEYS: lock. ARGV: value. Returns 1 if released, 0 if it was not ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


class LockNotAcquiredError(ClusterError):
    """Raised when a critical section's lock stays held by another process past the wait."""


class FencedLock:
    """Mutex on one key; use as ``with lock: ...`` (waits ``wait_s``) or acquire/release by hand."""

    def __init__(self, redis, keys: Keys, key: str, holder: str, *, fence: str | None = None,
                 ttl_ms: int = 10_000, wait_s: float = 5.0, poll_s: float = 0.02) -> None:
        if ttl_ms <= 0:
            raise ValueError("Expected ttl_ms > 0.")
        self.redis = redis
        self.keys = keys
        self.key = key
        self.fence = fence
        self.ttl_ms = int(ttl_ms)
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.value = f"{fence or holder}#{uuid.uuid4().hex[:12]}"
        self._held = False
        self._acquire = redis.register_script(_ACQUIRE)
        self._extend = redis.register_script(_EXTEND)
        self._release = redis.register_script(_RELEASE)

    def acquire(self, timeout_s: float = 0.0) -> bool:
        """Take the lock, waiting up to ``timeout_s``; FencedWriteError if our lease is gone."""
        deadline = time.monotonic() + timeout_s
        while True:
            taken = call_fenced(self._acquire, [self.keys.lease(), self.key],
                                [self.fence or "", self.value, self.ttl_ms], self.fence)
            if taken:
                self._held = True
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.poll_s)

    def extend(self) -> bool:
        """Push the expiry out by ``ttl_ms`` again, if the lock is still ours."""
        self._held = bool(self._extend(keys=[self.key], args=[self.value, self.ttl_ms]))
        return self._held

    def release(self) -> bool:
        """Free the lock if it is still ours; returns whether it was."""
        was_ours = bool(self._release(keys=[self.key], args=[self.value]))
        self._held = False
        return was_ours

    def __enter__(self) -> FencedLock:
        """Acquire within ``wait_s`` or raise LockNotAcquiredError; released on exit."""
        if not self.acquire(self.wait_s):
            holder = self.redis.get(self.key)
            raise LockNotAcquiredError(f"lock {self.key} is held by {holder!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def job_lock(redis, keys: Keys, job_id: str, holder: str, *, fence: str | None = None,
             ttl_ms: int = 10_000, wait_s: float = 5.0) -> FencedLock:
    """The lock guarding multi-step sections on one job (recovery, cancel)."""
    return FencedLock(redis, keys, keys.job_lock(job_id), holder, fence=fence, ttl_ms=ttl_ms,
                      wait_s=wait_s)
