"""The leader's local fence checks, before the Redis scripts check the same fence atomically."""

from __future__ import annotations

from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.cluster.store_base import StoreBase
from tsp_celery.errors import FencedWriteError


class Fencing:
    """``check`` before a commit, ``confirm`` before a dispatch (which no fenced script covers)."""

    def __init__(self, lease: LeaderLease, store: StoreBase) -> None:
        self.lease = lease
        self.store = store

    def check(self, fence: str) -> None:
        """FencedWriteError unless ``fence`` is still our live lease: a leader that could not
        renew in time stops writing at once, even before Redis would refuse it."""
        if self.lease.fence != fence:
            raise FencedWriteError(f"write refused: {fence} is no longer our lease")

    def confirm(self, fence: str) -> None:
        """``check``, and the lease read back from the store: a deposed leader must not even
        send work."""
        self.check(fence)
        if self.store.lease_value() != fence:
            raise FencedWriteError(f"dispatch refused: {fence} is no longer the leader's lease")
