"""Opening Redis: one place for timeouts, URL redaction and the "cannot reach Redis" error."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import redis as redis_lib

from tsp_celery.errors import ClusterUnreachableError

# Errors that mean "Redis is not there" rather than "the command was wrong".
REDIS_DOWN = (redis_lib.ConnectionError, redis_lib.TimeoutError)


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe for messages, logs, probe output)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]  # host[:port] exactly as written (IPv6 brackets too)
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


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
        raise ClusterUnreachableError(redact_url(url), f"authentication failed: {exc}") from exc
    except REDIS_DOWN as exc:
        raise ClusterUnreachableError(redact_url(url), str(exc) or type(exc).__name__) from exc
    except ValueError as exc:
        raise ClusterUnreachableError(redact_url(url), f"bad URL: {exc}") from exc
    return client
