"""RedisBroker: the broker contract on Redis Streams, for agents in separate processes.

Each (env, channel, recipient) is one stream; broadcasts of a channel in an env are one stream
that every recipient reads through a consumer group of its own. A reader's consume first
acknowledges what it was given last time (it has processed it: it came back for more), then
reads what is still pending for it (after a crash, what it was given but never acknowledged),
then what is new; acknowledged direct messages are deleted, and broadcast entries once every
group has acknowledged them. Each publish and each consume is one Lua script: one round trip,
atomic. Frames are :mod:`heron.messaging.codec`'s; a frame that is not one is counted in
``rejected`` and never delivered.

Subscriptions (``subscribe``) are called for messages published through this broker object.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from heron.messaging.base import BROADCAST, DEFAULT_ENV, Message, MessageBroker, claimed_already, message_on
from heron.messaging.channels import ChannelManager
from heron.messaging.codec import FrameError, decode, encode
from heron.messaging.leases import LEASE_MS, due_for_renewal, holder_died, holder_name, new_holder
from heron.messaging.redis_link import EPOCH_KEY, RedisLink

__all__ = ["RedisBroker", "lease_key", "marks_key", "stream_key"]

_SEP = "\x1f"  # between the parts of a stream key: no channel or agent id holds it
_PREFIX = "heron"
#: The most messages one stream holds, as InMemoryBroker's default.
DEFAULT_MAX_PENDING = 100_000


def lease_key(env_id: str, site: str | None = None) -> str:
    """The key of the lease on an env's id, or on ``site``'s identity in it (see
    ``RedisBroker.claim_environment``); outside the streams' key space, which scans of an env's
    streams walk."""
    return _SEP.join((f"{_PREFIX}-lease", env_id) if site is None else (f"{_PREFIX}-lease", env_id, site))


def marks_key(env_id: str, reader: str) -> str:
    """The hash of what ``reader`` acknowledged in env ``env_id`` (``MessageBroker.marks``)."""
    return _SEP.join((f"{_PREFIX}-marks", env_id, reader))


#: Replace a lease only if it still names the holder we found dead. KEYS: the lease.
#: ARGV: the dead holder, the new holder, the lease's time to live (ms).
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


def stream_key(env_id: str, channel: str, recipient: str) -> str:
    """The stream of ``channel``'s messages for ``recipient`` in env ``env_id``."""
    return _SEP.join((_PREFIX, env_id, channel, recipient))


#: Every script's first lines: the server must still hold the data this broker first saw (its
#: last key is ``EPOCH_KEY``, its last argument the token read there, '' when unknown).
_GUARD = """
if ARGV[#ARGV] ~= '' and redis.call('GET', KEYS[#KEYS]) ~= ARGV[#ARGV] then return redis.error_reply('LOST') end
"""

_PUBLISH = _GUARD + """
local n = redis.call('XLEN', KEYS[1])
if n >= tonumber(ARGV[2]) then return redis.error_reply('FULL ' .. n) end
return redis.call('XADD', KEYS[1], '*', 'm', ARGV[1])
"""

#: Stream entry ids compared in Lua.
_IDS = """
local function parts(id)
  local ms, seq = string.match(id, '(%d+)-(%d+)')
  return tonumber(ms), tonumber(seq)
end
local function below(a, b)
  local am, as = parts(a)
  local bm, bs = parts(b)
  return am < bm or (am == bm and as < bs)
end
"""

# A broadcast: its publisher first drops the entries every reader's group has acknowledged
# (readers never write to a broadcast stream but through their group, so the ACL rules can
# keep one site from trimming what the others read), then appends. KEYS: the broadcast
# stream, EPOCH_KEY. ARGV: the frame, the most entries the stream holds ('' for no bound), the epoch.
_BROADCAST = _GUARD + _IDS + """
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then
  local low = nil
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local info = {}
    for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
    local ms, seq = parts(info['last-delivered-id'])
    local keep = ms .. '-' .. (seq + 1)  -- everything up to the last delivered is acknowledged ...
    if info['pending'] > 0 then keep = redis.call('XPENDING', key, info['name'])[2] end  -- ... unless some is not
    if low == nil or below(keep, low) then low = keep end
  end
  if low ~= nil then redis.call('XTRIM', key, 'MINID', low) end
  if ARGV[2] ~= '' then
    local n = redis.call('XLEN', key)
    if n >= tonumber(ARGV[2]) then return redis.error_reply('FULL ' .. n) end
  end
end
return redis.call('XADD', key, '*', 'm', ARGV[1])
"""

# KEYS: direct stream, broadcast stream, EPOCH_KEY. ARGV: group, peek ('1'/'0'), recover ('1':
# read what was given but never acknowledged first), number of direct acks, the direct acks, the
# broadcast acks, the epoch. Returns {direct entries, broadcast entries, their last ids}.
_CONSUME = _GUARD + """
local group, peek, recover, n = ARGV[1], ARGV[2] == '1', ARGV[3] == '1', tonumber(ARGV[4])
local acks = {{}, {}}
for i = 5, #ARGV - 1 do table.insert(acks[(i - 4 <= n) and 1 or 2], ARGV[i]) end
local function read(key, k)
  if #acks[k] > 0 then
    redis.call('XACK', key, group, unpack(acks[k]))
    if k == 1 then redis.call('XDEL', key, unpack(acks[k])) end
  end
  if k == 1 and redis.call('EXISTS', key) == 0 then return {} end
  pcall(redis.call, 'XGROUP', 'CREATE', key, group, '0', 'MKSTREAM')  -- a broadcast reader is known from its first read
  local out = {}
  if peek then
    local start = '-'
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
      local info = {}
      for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
      if info['name'] == group then start = '(' .. info['last-delivered-id'] end
    end
    if start == '(0-0' then start = '-' end
    for _, e in ipairs(redis.call('XRANGE', key, start, '+')) do table.insert(out, e) end
    return out
  end
  for _, from in ipairs(recover and {'0', '>'} or {'>'}) do
    local res = redis.call('XREADGROUP', 'GROUP', group, group, 'STREAMS', key, from)
    if res and res[1] then
      for _, e in ipairs(res[1][2]) do if e[2] then table.insert(out, e) end end
    end
  end
  return out
end
local function last(key)
  if redis.call('EXISTS', key) == 0 then return '0-0' end
  local info = redis.call('XINFO', 'STREAM', key)
  for j = 1, #info, 2 do if info[j] == 'last-generated-id' then return info[j + 1] end end
  return '0-0'
end
return {read(KEYS[1], 1), read(KEYS[2], 2), last(KEYS[1]), last(KEYS[2])}
"""


class RedisBroker(MessageBroker):
    """The broker contract over Redis Streams at ``url`` (``redis://host:port/db``; ``rediss://``
    for TLS, with a user and password in the URL for an ACL user). An unreachable server fails
    within seconds, naming the URL. ``max_pending`` bounds each stream, as in memory (None: no
    bound, for an ACL user that may write but not read its report streams);
    ``socket_timeout`` (s) bounds each reply (a blocking wait is cut into reads within it). A
    lost connection is retried for up to ``retry_for`` seconds; a server that came back empty
    raises :class:`~heron.messaging.base.BrokerLost` (:mod:`heron.messaging.redis_link`)."""

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", max_pending: int | None = DEFAULT_MAX_PENDING,
                 socket_timeout: float = 30.0, retry_for: float = 10.0) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"RedisBroker needs a redis:// (or rediss://, unix://) URL, got {url!r}")
        self.url, self.socket_timeout, self.retry_for = url, float(socket_timeout), float(retry_for)
        self.max_pending = None if max_pending is None else int(max_pending)
        self._link = RedisLink(url, self.socket_timeout, self.retry_for)
        self._client = self._link.client
        self._epoch = self._link.epoch or b""  # what the scripts check the server still holds ('': unknown)
        self._publish = self._client.register_script(_PUBLISH)
        self._consume = self._client.register_script(_CONSUME)
        self._take_over = self._client.register_script(_TAKE_OVER)
        self._broadcast = self._client.register_script(_BROADCAST)
        self._unacked: dict[tuple[str, str], tuple[list[bytes], list[bytes]]] = {}  # (key pair) -> ids given last time
        self._seen: set[tuple[str, str]] = set()  # streams this broker has read from
        self._last_ids: list[bytes] = [b"0-0", b"0-0"]  # the newest entry ids of the streams the last consume read
        self._subscribers: dict[str, list[Callable[[Message], None]]] = {}
        self._lock = threading.Lock()
        self.rejected = 0  # frames that were not messages of this codec
        #: what this broker object's leases hold: a token of its own, then who holds them
        self._holder = new_holder()
        self._leases: dict[tuple[str, str | None], float] = {}  # (env id, site) -> last renewal (monotonic s)

    def __getstate__(self) -> dict[str, Any]:  # a copy (a vector env's worker) opens its own connection
        return {"url": self.url, "max_pending": self.max_pending, "socket_timeout": self.socket_timeout, "retry_for": self.retry_for}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    _key = staticmethod(stream_key)

    # ------------------------------------------------------------------ leases
    def claim_environment(self, env_id: str, owner: object, site: str | None = None) -> None:
        """Also on the server: a lease (``lease_key``) that this broker object renews while it
        publishes (every ``LEASE_MS / 3``), so a second env with the same id, or a second
        process serving the same site, in another process or a copy, is refused instead of
        sharing the streams; the refusal names the holder (its process id and host). A lease
        left by a process that died ends ``LEASE_MS`` after its last renewal; a holder that
        finds its lease taken by another when it renews stops with ``ValueError``."""
        super().claim_environment(env_id, owner, site)
        try:
            self._link.run(f"the claim of {lease_key(env_id, site)!r}", lambda: self._hold_lease(env_id, site))
        except (ValueError, ConnectionError):
            super().release_environment(env_id, owner, site)
            raise

    def release_environment(self, env_id: str, owner: object, site: str | None = None) -> None:
        super().release_environment(env_id, owner, site)
        if self._leases.pop((env_id, site), None) is not None:
            key = lease_key(env_id, site)
            with contextlib.suppress(Exception):  # a broker that is gone holds no lease
                if self._client.get(key) == self._holder:
                    self._client.delete(key)

    def _hold_lease(self, env_id: str, site: str | None) -> None:
        key = lease_key(env_id, site)
        if not self._client.set(key, self._holder, nx=True, px=LEASE_MS):
            held = self._client.get(key)
            if held is not None and held != self._holder and holder_died(held):  # a crashed process on this host
                if self._take_over(keys=[key], args=[held, self._holder, LEASE_MS]):
                    held = self._holder
            if held != self._holder:
                raise ValueError(claimed_already(env_id, site, f"{holder_name(held)} on {self.url} "
                                                               f"(this process: {holder_name(self._holder)})"))
            self._client.pexpire(key, LEASE_MS)
        self._leases[(env_id, site)] = time.monotonic()

    def _renew_leases(self) -> None:
        for env_id, site in due_for_renewal(self._leases):
            self._hold_lease(env_id, site)

    # ------------------------------------------------------------------ marks
    def marks(self, env_id: str, reader: str) -> dict[str, int]:
        """On the server (``marks_key``), beside the streams and their positions."""
        held = self._link.run(f"a read of {reader!r}'s marks", lambda: self._client.hgetall(marks_key(env_id, reader)))
        return {field.decode(): int(value) for field, value in held.items()}

    def keep_marks(self, env_id: str, reader: str, marks: Mapping[str, int]) -> None:
        if marks:
            self._link.run(f"a write of {reader!r}'s marks", lambda: self._client.hset(marks_key(env_id, reader), mapping=dict(marks)))

    # ------------------------------------------------------------------ contract
    def create_channel(self, channel: str) -> None:
        """Streams are made by their first message: nothing to declare."""

    def publish(self, channel: str, message: Message | Mapping[str, Any]) -> None:
        import redis

        message = message_on(channel, message)
        key, frame = self._key(message.env_id, channel, message.recipient_id), encode(message)

        def send() -> None:
            if self._leases:
                self._renew_leases()
            if message.recipient_id == BROADCAST:
                self._broadcast(keys=[key, EPOCH_KEY], args=[frame, "" if self.max_pending is None else self.max_pending, self._epoch])
            elif self.max_pending is None:
                self._client.xadd(key, {"m": frame})
            else:
                self._publish(keys=[key, EPOCH_KEY], args=[frame, self.max_pending, self._epoch])

        try:
            self._link.run(f"a publish on {channel!r}", send)  # sent twice at worst: readers take a message once per step
        except redis.ResponseError as error:
            if str(error).startswith("FULL"):
                queue = "broadcast" if message.recipient_id == BROADCAST else f"recipient {message.recipient_id!r}"
                raise ValueError(f"channel {channel!r}, {queue}: {str(error)[5:]} messages pending, "
                                 f"the most one stream holds (max_pending={self.max_pending}); is its reader consuming?") from None
            raise
        for callback in self._subscribers.get(channel, ()):
            callback(message)

    def consume(self, channel: str, recipient_id: str, env_id: str | None = None, clear: bool = True) -> list[Message]:
        """Messages for ``recipient_id`` (direct, then unread broadcasts merged by timestamp);
        ``clear=False`` peeks without taking them."""
        env = env_id if env_id is not None else (ChannelManager.env_of(channel) or DEFAULT_ENV)
        keys = (self._key(env, channel, recipient_id), self._key(env, channel, BROADCAST))
        with self._lock:  # threads sharing this object share its bookkeeping: one read at a time
            direct_acks, broadcast_acks = self._unacked.pop(keys, ((), ())) if clear else ((), ())
            recover = clear and keys not in self._seen  # this reader's first read here: what it never acknowledged first
            self._seen.add(keys)
            def read() -> list[Any]:
                return self._consume(keys=[*keys, EPOCH_KEY], args=[recipient_id, "0" if clear else "1", "1" if recover else "0",
                                                                    len(direct_acks), *direct_acks, *broadcast_acks, self._epoch])

            def reread() -> None:  # the lost read may have been served: take what it was given first
                nonlocal recover
                recover = clear

            direct, shared, *self._last_ids = self._link.run(f"a read of {channel!r} for {recipient_id!r}", read, reread)
            if clear and (direct or shared):
                self._unacked[keys] = ([entry[0] for entry in direct], [entry[0] for entry in shared])
        out = self._decoded(direct, env)
        if shared:
            out = sorted(out + self._decoded(shared, env), key=lambda m: m.timestamp)
        return out

    def receive(self, channel: str, recipient_id: str, env_id: str, timeout: float) -> list[Message]:
        """Wait up to ``timeout`` seconds for messages and take them: between reads, the
        connection blocks in Redis (XREAD BLOCK) until either stream grows, so a waiting process
        neither spins nor adds a polling delay."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.consume(channel, recipient_id, env_id)
            left = deadline - time.monotonic()
            if messages or left <= 0:
                return messages
            env = env_id if env_id is not None else (ChannelManager.env_of(channel) or DEFAULT_ENV)
            keys = (self._key(env, channel, recipient_id), self._key(env, channel, BROADCAST))
            block = max(int(min(left, 0.5 * self.socket_timeout) * 1000), 1)  # within the connection's read timeout
            self._link.run(f"a wait on {channel!r} for {recipient_id!r}", lambda: self._client.xread(dict(zip(keys, self._last_ids)), block=block))

    def _decoded(self, entries: list[Any], env: str) -> list[Message]:
        out = []
        for _, fields in entries:
            try:
                message = decode(dict(zip(fields[::2], fields[1::2]))[b"m"])
            except (FrameError, KeyError):
                self.rejected += 1
                continue
            if message.env_id != env:  # written into this env's stream by someone else: never applied
                self.rejected += 1
                continue
            out.append(message)
        return out

    def subscribe(self, channel: str, callback: Callable[[Message], None]) -> None:
        if not callable(callback):
            raise ValueError(f"subscribe expects a callable, got {callback!r}")
        self._subscribers.setdefault(channel, []).append(callback)

    def _env_keys(self, env_id: str) -> list[bytes]:
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in self._key(env_id, "", ""))[:-1]  # up to the channel
        return list(self._client.scan_iter(match=pattern + "*", count=1000))

    def clear_environment(self, env_id: str) -> None:
        keys = self._link.run(f"the clearing of env {env_id!r}", lambda: self._env_keys(env_id))
        if keys:
            self._link.run(f"the clearing of env {env_id!r}", lambda: self._client.delete(*keys))
        self._unacked = {k: v for k, v in self._unacked.items() if not k[0].startswith(self._key(env_id, "", "")[:-1])}

    def get_environment_channels(self, env_id: str) -> list[str]:
        return sorted({key.decode().split(_SEP)[2] for key in self._env_keys(env_id) if self._client.xlen(key)})

    def pending_count(self, env_id: str | None = None) -> int:
        """Messages not yet delivered to their reader (every reader, for a broadcast) in the
        env's streams (all envs' for None)."""
        keys = self._env_keys(env_id) if env_id is not None else list(self._client.scan_iter(match=f"{_PREFIX}{_SEP}*"))
        total = 0
        for key in keys:
            groups = self._client.xinfo_groups(key)
            total += max((g["lag"] if g.get("lag") is not None else self._client.xlen(key) for g in groups), default=self._client.xlen(key))
        return total

    def close(self) -> None:
        """Acknowledge what was processed, and close the connection (on a server that is gone,
        only close it: it never raises, and waits no longer than one reply's timeout)."""
        with contextlib.suppress(Exception):  # a server that is gone has nothing left to acknowledge
            for keys, (direct, shared) in self._unacked.items():
                self._consume(keys=[*keys, EPOCH_KEY], args=[keys[0].split(_SEP)[-1], "1", "0", len(direct), *direct, *shared, self._epoch])
        self._unacked.clear()
        with contextlib.suppress(Exception):
            self._link.close()
