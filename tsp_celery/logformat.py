"""Log output: plain text (the default) or one JSON object per line for log shippers.

Every JSON line has the same keys: time, level, logger, message, node, job, term, lamport,
event (null where they do not apply). ``job``/``lamport``/``event``/``node`` come from the
record's ``extra`` (the event log sets them, and the term of a fenced write, on every event it
appends); ``node`` otherwise from this process (``set_node``).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone

FORMATS = ("text", "json")
FORMAT_ENV = "TSP_CELERY_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("time", "level", "logger", "message", "node", "job", "term", "lamport", "event")

_node: list[str] = []


def set_node(node: str) -> None:
    """Name this process's node for JSON lines whose record names none."""
    _node[:] = [node]


class JsonFormatter(logging.Formatter):
    """One JSON object per record, keys ``FIELDS`` (plus ``exc`` with a traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "node": getattr(record, "node", None) or (_node[0] if _node else None),
            "job": getattr(record, "job", None),
            "term": getattr(record, "term", None),
            "lamport": getattr(record, "lamport", None),
            "event": getattr(record, "event", None),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def formatter(kind: str) -> logging.Formatter:
    if kind not in FORMATS:
        raise ValueError(f"Expected a log format in {FORMATS}, got {kind!r}.")
    return JsonFormatter() if kind == "json" else logging.Formatter(TEXT_FORMAT)


def use_format(kind: str, logger: logging.Logger | None = None) -> None:
    """Give every handler of ``logger`` (default: the root) the formatter of ``kind``."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        handler.setFormatter(formatter(kind))


def format_from_env() -> str:
    """The format named by TSP_CELERY_LOG_FORMAT (text when unset)."""
    kind = os.environ.get(FORMAT_ENV, "text").strip().lower() or "text"
    if kind not in FORMATS:
        raise ValueError(f"{FORMAT_ENV} must be one of {', '.join(FORMATS)}, got {kind!r}.")
    return kind
