"""Unit progress for Flower and the result backend: a PROGRESS state plus a task-progress event.

Flower is event-driven and ignores backend-only states, so each report does both; reports are
throttled because every one costs a backend write and a published event.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

PROGRESS = "PROGRESS"


class Progress:
    """A callable to hand to the solver as ``on_progress`` (any arguments are accepted)."""

    def __init__(self, task, base: dict[str, Any], min_interval_s: float = 1.0) -> None:
        self.task = task
        self.base = base
        self.min_interval_s = min_interval_s
        self._last = 0.0

    def report(self, force: bool = False, **meta: Any) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        body = {**self.base, **meta}
        if self.task.request.called_directly:
            return
        try:
            self.task.update_state(state=PROGRESS, meta=body)
            self.task.send_event("task-progress", **body)
        except Exception as exc:  # monitoring must never fail a unit
            log.debug("progress report failed: %s", exc)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        meta = dict(kwargs)
        if args:
            first = args[0]
            meta.update(first if isinstance(first, dict) else {"value": _plain(first)})
        self.report(**{k: _plain(v) for k, v in meta.items()})


def _plain(value: Any) -> Any:
    """JSON-safe scalars only (numpy numbers become Python ones, arrays are dropped)."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(type(value).__name__)
