"""JSON logs: one JSON object per line with the documented keys; text stays the default."""

from __future__ import annotations

import json
import logging

import pytest
import redis

from tsp_celery.cluster.events import EventLog, EventType
from tsp_celery.cluster.keys import Keys
from tsp_celery.cluster.lease import LeaderLease
from tsp_celery.errors import FencedWriteError
from tsp_celery.logformat import FIELDS, JsonFormatter, formatter, set_node

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def captured():
    """Records of the event logger, formatted as JSON lines."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tsp_celery.cluster.events")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_event_appends_log_job_term_lamport_event_and_node(captured, redis_url):
    client = redis.Redis.from_url(redis_url)
    lease = LeaderLease(client, Keys("lf"), "c1", 0, 3000, 1000)
    assert lease.try_acquire()
    log = EventLog(client, Keys("lf"))
    log.append("job1", EventType.ROUND_PLANNED, "c1", 7, {"round": 1}, fence=lease.fence)
    log.append("job1", EventType.UNIT_STARTED, "worker:h:1", 8, {})
    first, second = (json.loads(line) for line in captured)
    assert list(first) == list(FIELDS)
    assert first | {"time": None} == {
        "time": None, "level": "info", "logger": "tsp_celery.cluster.events",
        "message": "job job1: round_planned", "node": "c1", "job": "job1", "term": 1,
        "lamport": 7, "event": "round_planned"}
    assert first["time"].endswith("+00:00")
    assert (second["node"], second["term"], second["lamport"]) == ("worker:h:1", None, 8)


def test_other_records_carry_the_process_node_and_nulls():
    set_node("coord-a")
    record = logging.LogRecord("tsp_celery.x", logging.WARNING, __file__, 1, "lost %s", ("x",),
                               None)
    line = json.loads(JsonFormatter().format(record))
    assert (line["node"], line["message"], line["level"]) == ("coord-a", "lost x", "warning")
    assert line["job"] is None and line["term"] is None and line["event"] is None


def test_text_is_the_default_and_unknown_formats_are_refused():
    assert not isinstance(formatter("text"), JsonFormatter)
    with pytest.raises(ValueError, match="json"):
        formatter("xml")


def test_a_refused_append_logs_nothing(captured, redis_url):
    log = EventLog(redis.Redis.from_url(redis_url), Keys("lf"))
    with pytest.raises(FencedWriteError):
        log.append("job1", EventType.DONE, "c0", 9, {}, fence="c0:99")
    assert captured == []
