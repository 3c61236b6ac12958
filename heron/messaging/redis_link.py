"""One process's connection to a Redis server, through short outages and restarts.

A command that loses the connection is tried again, with backoff, for up to ``retry_for``
seconds; the server's answer then tells whether it kept its data. The first connection
of any process leaves an epoch token on the server (``EPOCH_KEY``); a server that comes back
without it restarted empty: every stream, consumer group and lease on it is gone with the
messages in flight, and :class:`~heron.messaging.base.BrokerLost` says so instead of letting
readers wait for messages that will never come. A server that comes back with its data
(persistence on) is used again as if nothing happened.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from heron.messaging.base import BrokerLost

__all__ = ["EPOCH_KEY", "RedisLink"]

#: The key holding the token of the server's data: gone when the server restarted empty.
EPOCH_KEY = "heron-epoch"
T = TypeVar("T")


class RedisLink:
    """The client of ``url`` and the epoch it first saw (None when this user may not read it)."""

    def __init__(self, url: str, socket_timeout: float, retry_for: float) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url, self.retry_for = url, float(retry_for)
        self.client = redis.Redis.from_url(url, socket_connect_timeout=3.0, socket_timeout=socket_timeout,
                                           retry=Retry(NoBackoff(), 0))  # the retrying is run()'s, bounded by retry_for
        try:
            self.client.ping()
        except redis.RedisError as error:
            raise ConnectionError(f"Redis at {url!r} cannot be reached: {error}") from None
        self.epoch = self._epoch(create=True)

    def _epoch(self, create: bool = False) -> bytes | None:
        import redis

        if create:
            try:
                self.client.set(EPOCH_KEY, uuid.uuid4().hex, nx=True)
            except redis.exceptions.NoPermissionError:  # a site's ACL user reads the token an unrestricted client left
                pass
        try:
            return self.client.get(EPOCH_KEY)
        except redis.exceptions.NoPermissionError:  # a user without access to it: restarts are not told apart
            return None

    def run(self, op: str, command: Callable[[], T], on_retry: Callable[[], None] | None = None) -> T:
        """``command()``; when the connection is lost, again once the server answers (after
        ``on_retry()``, which may make the command safe to repeat), for up to ``retry_for``
        seconds. Raises ``ConnectionError`` naming the server and ``op`` when it does not come
        back, :class:`BrokerLost` when it came back empty."""
        import redis

        try:
            return command()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            lost: Exception = error
        except redis.ResponseError as error:
            if str(error).startswith("LOST"):  # a script found the server without the data it had (reconnected silently)
                raise self._lost(op) from None
            raise
        deadline, pause = time.monotonic() + self.retry_for, 0.05
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(2.0 * pause, 1.0)
            try:
                epoch = self._epoch()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                lost = error
                continue
            if self.epoch is not None and epoch != self.epoch:
                raise self._lost(op)
            if on_retry is not None:
                on_retry()
            try:
                return command()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                lost = error
        raise ConnectionError(f"Redis at {self.url!r} was lost during {op} and did not come back within "
                              f"{self.retry_for:g} s ({lost})")

    def _lost(self, op: str) -> BrokerLost:
        return BrokerLost(f"Redis at {self.url!r} restarted without its data during {op}: every stream, consumer group "
                          "and lease on it is gone, with the messages in flight")

    def close(self) -> None:
        self.client.close()

