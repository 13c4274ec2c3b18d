"""Opening Redis: one place for timeouts, URL redaction and the "cannot reach Redis" error.

``redact_url`` and ``redact_text`` are the only redaction in the project: every message, log
line, probe report and ``--json`` output that may carry a Redis URL goes through them.
"""

from __future__ import annotations

import logging
import re

import redis as redis_lib

from tsp_celery.errors import ClusterUnreachableError

# Errors that mean "Redis is not there" rather than "the command was wrong".
REDIS_DOWN = (redis_lib.ConnectionError, redis_lib.TimeoutError)


MASK = "***"
# Query parameters that carry a secret (redis-py, kombu and sentinel spellings).
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:password|passwd|pass|pwd|sentinel_password|auth|token|secret)=)[^&;#\s]*")
# A URL inside free text: scheme://, then up to whitespace (quotes included: a password may
# hold one, and a closing quote after the host is harmless).
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://\S*")


def redact_url(url: str) -> str:
    """The URL with every password replaced by ``***``: ``user:pass@``, ``?password=`` and each
    URL of a ``;``-separated sentinel list. Never raises, whatever the input."""
    return ";".join(_redact_one(part) for part in url.split(";"))


def _redact_one(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if sep:
        end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        userinfo, at, host = rest[:end].rpartition("@")
        host += rest[end:]
        if at and ":" in userinfo:
            rest = f"{userinfo.partition(':')[0]}:{MASK}@{host}"
        elif at and userinfo:  # redis://PASSWORD@host is read as a password by redis-py
            rest = f"{MASK}@{host}"
        url = f"{scheme}{sep}{rest}"
    return _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, url)


def redact_text(text: str) -> str:
    """``text`` with every URL in it redacted (error messages, log lines)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts URLs in every record it passes (install on handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a RedactingFilter to every handler of ``logger`` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def connect(url: str, *, ping: bool = True) -> redis_lib.Redis:
    """A client for ``url`` (password and rediss:// TLS options come from the URL itself).

    With ``ping``, an unreachable server raises ClusterUnreachableError naming the (redacted) URL.
    """
    try:
        client = redis_lib.Redis.from_url(
            url,
            socket_connect_timeout=5,  # fail fast when the host is down
            socket_timeout=30,  # longer than any blocking read we issue (XREAD BLOCK <= 5 s)
            health_check_interval=10,  # revalidate idle pooled connections after a Redis restart
        )
        if ping:
            client.ping()
    except redis_lib.AuthenticationError as exc:  # before REDIS_DOWN: it subclasses it
        raise ClusterUnreachableError(redact_url(url),
                                      f"authentication failed: {redact_text(str(exc))}") from exc
    except REDIS_DOWN as exc:
        raise ClusterUnreachableError(redact_url(url),
                                      redact_text(str(exc)) or type(exc).__name__) from exc
    except ValueError as exc:
        raise ClusterUnreachableError(redact_url(url), f"bad URL: {redact_text(str(exc))}") from exc
    return client
