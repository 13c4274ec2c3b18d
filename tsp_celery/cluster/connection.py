"""Opening Redis: one place for timeouts, Sentinel, URL redaction and the "cannot reach Redis"
error.

``redact_url`` and ``redact_text`` are the only redaction in the project: every message, log
line, probe report and ``--json`` output that may carry a Redis URL goes through them.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import redis as redis_lib
import redis.asyncio
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelPool
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from tsp_celery.errors import ClusterUnreachableError
from tsp_celery.settings import DEFAULT_SENTINEL_MASTER, Settings

# Errors that mean "Redis is not there" rather than "the command was wrong".
REDIS_DOWN = (redis_lib.ConnectionError, redis_lib.TimeoutError)
DEFAULT_SENTINEL_PORT = 26379


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


def connect(url: str, *, ping: bool = True, sentinel_master: str = DEFAULT_SENTINEL_MASTER,
            sentinel_password: str = "", probe_timeout_s: float | None = None) -> redis_lib.Redis:
    """A client for ``url``: one Redis (password and rediss:// TLS options from the URL), or the
    primary named ``sentinel_master`` behind a ``sentinel://h1:26379;sentinel://h2:26379`` list.

    A sentinel-managed client asks the sentinels for the primary on every new connection, so
    after a failover (a READONLY reply or a lost connection) the next call reaches the new one.
    ``probe_timeout_s`` makes a client that fails fast (short timeouts, no retries) for probes.
    With ``ping``, an unreachable server raises ClusterUnreachableError naming the (redacted) URL.
    """
    options = _client_options(probe_timeout_s)
    try:
        if url.startswith("sentinel://"):
            client = _sentinel_primary(url, sentinel_master, sentinel_password, options)
        else:
            client = redis_lib.Redis.from_url(url, **options)
        if ping:
            client.ping()
    except redis_lib.AuthenticationError as exc:  # before REDIS_DOWN: it subclasses it
        raise ClusterUnreachableError(redact_url(url),
                                      f"authentication failed: {redact_text(str(exc))}") from exc
    except REDIS_DOWN as exc:
        raise ClusterUnreachableError(redact_url(url), error_text(exc)) from exc
    except ValueError as exc:
        raise ClusterUnreachableError(redact_url(url), f"bad URL: {redact_text(str(exc))}") from exc
    return client


def error_text(exc: BaseException) -> str:
    """A Redis error as one short redacted line. Sentinel discovery errors list each sentinel's
    failure after a repr of its whole client: only the failures are kept."""
    text = str(exc)
    if isinstance(exc, MasterNotFoundError) and " : " in text:
        head, _, rest = text.partition(" : ")
        causes = dict.fromkeys(seg.rsplit(" - ", 1)[-1] for seg in rest.split(", <redis."))
        text = f"{head} (sentinels: {'; '.join(causes)})"
    return redact_text(text) or type(exc).__name__


def connect_settings(settings: Settings, **kwargs: Any) -> redis_lib.Redis:
    """``connect`` for the deployment in ``settings`` (its URL, sentinel master and password)."""
    return connect(settings.redis_url, sentinel_master=settings.sentinel_master,
                   sentinel_password=settings.sentinel_password, **kwargs)


def connect_async(settings: Settings, *, max_connections: int,
                  socket_timeout: float) -> redis_lib.asyncio.Redis:
    """An asyncio client (the gateway's streams) that waits for a free connection once
    ``max_connections`` are in use; through the sentinels for a sentinel:// URL. It owns its
    pool: ``aclose()`` closes both. No ping: the first command connects."""
    if not settings.is_sentinel:
        pool = redis_lib.asyncio.BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=max_connections, timeout=None,
            socket_timeout=socket_timeout)
        return redis_lib.asyncio.Redis.from_pool(pool)
    nodes, primary = sentinel_nodes(settings.redis_url)
    sentinel_options: dict[str, Any] = {"socket_timeout": socket_timeout,
                                        "socket_connect_timeout": 5}
    if settings.sentinel_password:
        sentinel_options["password"] = settings.sentinel_password
    sentinel = AsyncSentinel(nodes, sentinel_kwargs=sentinel_options,
                             socket_timeout=socket_timeout, socket_connect_timeout=5)
    return sentinel.master_for(settings.sentinel_master,
                               connection_pool_class=_BlockingSentinelPool,
                               max_connections=max_connections, timeout=None, **primary)


class _BlockingSentinelPool(AsyncSentinelPool, redis_lib.asyncio.BlockingConnectionPool):
    """Sentinel discovery, and waiting (not failing) when every connection is in use."""


def _client_options(probe_timeout_s: float | None) -> dict[str, Any]:
    if probe_timeout_s is not None:
        return {"socket_connect_timeout": probe_timeout_s, "socket_timeout": probe_timeout_s,
                "retry": Retry(NoBackoff(), 0)}
    return {
        "socket_connect_timeout": 5,  # fail fast when the host is down
        "socket_timeout": 30,  # longer than any blocking read we issue (XREAD BLOCK <= 5 s)
        "health_check_interval": 10,  # revalidate idle pooled connections after a Redis restart
    }


def sentinel_nodes(url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The (host, port) of each sentinel in a ``sentinel://...;sentinel://...`` list, and the
    primary's db, username and password (from the first URL, as kombu and Celery read them)."""
    nodes, first = [], None
    for part in url.split(";"):
        parts = urlsplit(part)
        if parts.scheme != "sentinel" or not parts.hostname:
            raise ValueError("Expected sentinel://host:port for every sentinel")
        nodes.append((parts.hostname, parts.port or DEFAULT_SENTINEL_PORT))
        first = first or parts
    assert first is not None  # split() yields at least one part
    db = first.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError("Expected a database number as the sentinel URL's path")
    return nodes, {"db": int(db), "username": unquote(first.username or "") or None,
                   "password": unquote(first.password or "") or None}


def _sentinel_primary(url: str, master: str, sentinel_password: str,
                      options: dict[str, Any]) -> redis_lib.Redis:
    nodes, primary = sentinel_nodes(url)
    sentinel_options = {k: v for k, v in options.items() if k.startswith("socket_")}
    if sentinel_password:
        sentinel_options["password"] = sentinel_password
    sentinel = Sentinel(nodes, sentinel_kwargs=sentinel_options, **options)
    return sentinel.master_for(master, **primary)
