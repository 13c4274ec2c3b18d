"""One redaction for every URL we print or log: passwords never leave as text."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsp_celery.cluster.connection import RedactingFilter, redact_text, redact_url


@pytest.mark.parametrize("url, shown", [
    ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
    ("rediss://user:pw@h:6380/1", "rediss://user:***@h:6380/1"),
    ("redis://pw@h:6379/0", "redis://***@h:6379/0"),
    ("redis://h:6379/0", "redis://h:6379/0"),
    ("redis://h/0?password=pw&db=1", "redis://h/0?password=***&db=1"),
    ("unix:///run/redis.sock?password=pw", "unix:///run/redis.sock?password=***"),
    ("sentinel://:p1@s1:26379;sentinel://:p2@s2:26379",
     "sentinel://:***@s1:26379;sentinel://:***@s2:26379"),
    ("redis://h/0?sentinel_password=pw", "redis://h/0?sentinel_password=***"),
    ("redis://:p/w@x@h:1/0", "redis://:***@h:1/0"),
    ("redis://[::1]:6379/0", "redis://[::1]:6379/0"),
    ("redis://h/0?note=a@b", "redis://h/0?note=a@b"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


@given(password=st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                      exclude_characters="@;/?#&"), min_size=4, max_size=20),
       host=st.sampled_from(["h", "cache.example", "[::1]"]))
def test_no_password_survives(password, host):
    """Any printable password (quotes included) in either URL form, alone or inside a message."""
    for url in (f"redis://:{password}@{host}:6379/0", f"rediss://u:{password}@{host}/0",
                f"redis://{host}/0?password={password}"):
        for shown in (redact_url(url), redact_text(f"cannot reach Redis at {url}: refused")):
            assert f":{password}@" not in shown and f"={password}" not in shown, shown


def test_redact_text_finds_every_url_in_a_message():
    text = "tried redis://:a1@x:1/0 then 'rediss://:b2@y:2/0' and gave up"
    assert redact_text(text) == "tried redis://:***@x:1/0 then 'rediss://:***@y:2/0' and gave up"


def test_log_filter_redacts_formatted_records():
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "Redis at %s is down",
                               ("redis://:topsecret@h:6379/0",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "Redis at redis://:***@h:6379/0 is down"
