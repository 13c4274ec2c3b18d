"""Decoded instances kept per process, so a worker fetches and inflates each instance once."""

from __future__ import annotations

import threading
from collections import OrderedDict

from tsp_celery.cluster.store import JobStore
from tsp_celery.problem import Problem


class ProblemCache:
    """A small LRU of decoded Problems by content hash (instances are immutable by hash)."""

    def __init__(self, store: JobStore, maxsize: int = 4) -> None:
        if maxsize < 1:
            raise ValueError("Expected maxsize >= 1.")
        self.store = store
        self.maxsize = maxsize
        self._items: OrderedDict[str, Problem] = OrderedDict()
        self._lock = threading.Lock()
        self.misses = 0

    def put(self, content_hash: str, problem: Problem) -> None:
        """Keep an instance decoded elsewhere (admission decodes each one to check it)."""
        with self._lock:
            self._items[content_hash] = problem
            self._items.move_to_end(content_hash)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def get(self, content_hash: str) -> Problem:
        with self._lock:
            if content_hash in self._items:
                self._items.move_to_end(content_hash)
                return self._items[content_hash]
        problem = self.store.load_problem(content_hash)
        with self._lock:
            self.misses += 1
        self.put(content_hash, problem)
        return problem
