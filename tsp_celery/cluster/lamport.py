"""Lamport logical clock: every node keeps one; messages carry the sender's stamp.

A local event ticks the clock; receiving a stamp moves it to ``max(local, received) + 1``. Events
ordered by (lamport, node) then respect causality: if A happened before B, A sorts first.
"""

from __future__ import annotations

import threading


class LamportClock:
    """Thread-safe Lamport clock of one node (a worker process, a coordinator, a client)."""

    def __init__(self, node_id: str, start: int = 0) -> None:
        if start < 0:
            raise ValueError("Expected start >= 0.")
        self.node_id = node_id
        self._value = int(start)
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value

    def tick(self) -> int:
        """A local event (or a send): advance by one and return the stamp to use."""
        with self._lock:
            self._value += 1
            return self._value

    def observe(self, stamp: int | str | None) -> int:
        """A receive: jump past the sender's stamp. None (an unstamped message) is a local tick."""
        received = 0 if stamp is None else int(stamp)
        if received < 0:
            raise ValueError(f"Expected a Lamport stamp >= 0, got {received}.")
        with self._lock:
            self._value = max(self._value, received) + 1
            return self._value

    def __repr__(self) -> str:
        return f"LamportClock({self.node_id!r}, {self._value})"
