"""In-process broker: per-(channel, env, recipient) queues, so publish and consume are O(1) per message."""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from heron.messaging.base import BROADCAST, DEFAULT_ENV, Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager

__all__ = ["InMemoryBroker"]


class _BroadcastLog:
    """Messages for every recipient; each recipient reads from its own cursor.

    A message is kept until every recipient that has consumed from this log has read it, so
    the log stays as short as the slowest known reader and nothing is lost for a known reader.
    """

    __slots__ = ("messages", "base", "cursors")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.base = 0  # global index of messages[0]
        self.cursors: dict[str, int] = {}

    def read(self, recipient_id: str, clear: bool) -> list[Message]:
        start = self.cursors.get(recipient_id, self.base) - self.base
        out = self.messages[start:]
        if clear:
            self.cursors[recipient_id] = self.base + len(self.messages)
            low = min(self.cursors.values()) - self.base
            if low:
                del self.messages[:low]
                self.base += low
        return out


class _Channel:
    __slots__ = ("name", "env_id", "default_env", "direct", "broadcast", "subscribers")

    def __init__(self, name: str) -> None:
        self.name = name
        self.env_id = ChannelManager.env_of(name)  # None: the channel serves any env
        self.default_env = self.env_id or DEFAULT_ENV
        self.direct: dict[tuple[str, str], deque[Message]] = {}
        self.broadcast: dict[str, _BroadcastLog] = {}
        self.subscribers: list[Callable[[Message], None]] = []

    def pending(self) -> list[Message]:
        """The messages held for any reader (direct and unread broadcast), oldest first."""
        held = [m for q in list(self.direct.values()) for m in list(q)]
        held += [m for log in self.broadcast.values() for m in log.messages]
        held.sort(key=_by_timestamp)
        return held

    def size(self, env_id: str | None = None) -> int:
        n = sum(len(q) for (env, _), q in list(self.direct.items()) if env_id in (None, env))
        return n + sum(len(log.messages) for env, log in self.broadcast.items() if env_id in (None, env))


class InMemoryBroker(MessageBroker):
    """Thread-safe in-process broker for simulation and tests.

    Direct messages need no lock: each (env, recipient) queue is a deque, whose ``append`` and
    ``popleft`` are atomic, and a queue once made stays for the life of the channel. Broadcast
    logs, which keep one cursor per reader, are changed under the lock.

    ``publish`` accepts a :class:`Message` or a plain dict payload; a dict is sent as a
    broadcast from ``'anonymous'`` in the channel's environment. Subscribed callbacks run
    synchronously after the message is queued (outside the lock, so they may publish).

    A reader is known from its first ``consume`` of a channel, even before anything was
    published on it: broadcasts wait for every known reader. Each queue holds at most
    ``max_pending`` messages (default 100,000); a publish beyond that raises ``ValueError``
    naming the channel and the recipient, rather than growing without bound behind a reader
    that never reads. ``pending_by_queue()`` gives every queue's depth.
    """

    #: How many messages one queue (a recipient's, or a channel's broadcast log) may hold.
    DEFAULT_MAX_PENDING = 100_000

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        if isinstance(max_pending, bool) or not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(f"max_pending must be a positive integer, got {max_pending!r}")
        self.max_pending = max_pending
        self._channels: dict[str, _Channel] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """A copy holds the messages, not the lock nor the claims of the envs of the original."""
        with self._lock:
            state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_claims")}
            state["_channels"] = {name: _copied(ch) for name, ch in self._channels.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _channel(self, channel: str) -> _Channel:
        ch = self._channels.get(channel)
        if ch is None:
            if not isinstance(channel, str) or not channel:
                raise ValueError(f"channel must be a non-empty string, got {channel!r}")
            with self._lock:
                ch = self._channels.setdefault(channel, _Channel(channel))
        return ch

    def create_channel(self, channel: str) -> None:
        self._channel(channel)

    @property
    def channels(self) -> dict[str, list[Message]]:
        """Every channel used so far, by name, with the messages it still holds, oldest first (a
        snapshot: reading it consumes nothing)."""
        with self._lock:
            return {name: ch.pending() for name, ch in self._channels.items()}

    @property
    def subscribers(self) -> dict[str, list[Callable[[Message], None]]]:
        """The callbacks of every channel that has any, by channel name."""
        with self._lock:
            return {name: list(ch.subscribers) for name, ch in self._channels.items() if ch.subscribers}

    def __repr__(self) -> str:
        return f"InMemoryBroker(channels={len(self._channels)}, messages={self.pending_count()})"

    def publish(self, channel: str, message: Message | Mapping[str, Any]) -> None:
        ch = self._channels.get(channel) or self._channel(channel)
        if type(message) is Message:
            if ch.env_id is not None and message.env_id != ch.env_id:
                raise ValueError(
                    f"message for env_id {message.env_id!r} published on channel {channel!r} of env {ch.env_id!r}"
                )
        elif type(message) is dict:  # the common plain-payload case, without ABC checks
            payload, message = message, _new_message(Message)
            message.env_id = ch.default_env
            message.sender_id = "anonymous"
            message.recipient_id = BROADCAST
            message.timestamp = 0.0
            message.message_type = MessageType.BROADCAST
            message.payload = payload
        else:
            message = _as_message(ch, message)
        env_id = message.env_id
        if message.recipient_id == BROADCAST:
            with self._lock:
                log = ch.broadcast.get(env_id)
                if log is None:
                    log = ch.broadcast[env_id] = _BroadcastLog()
                if len(log.messages) >= self.max_pending:
                    self._full(channel, "broadcast", len(log.messages))
                log.messages.append(message)
        else:  # one atomic append: no lock needed (see the class docstring)
            key = (env_id, message.recipient_id)
            queue = ch.direct.get(key)
            if queue is None:
                queue = ch.direct.setdefault(key, deque())
            if len(queue) >= self.max_pending:
                self._full(channel, f"recipient {message.recipient_id!r}", len(queue))
            queue.append(message)
        if ch.subscribers:
            for callback in ch.subscribers:
                callback(message)

    def consume(
        self, channel: str, recipient_id: str, env_id: str | None = None, clear: bool = True
    ) -> list[Message]:
        """Messages addressed to ``recipient_id`` plus unread broadcasts, oldest first.

        ``env_id`` defaults to the channel's own env (or ``'default'``). ``clear=False`` peeks.
        """
        ch = self._channels.get(channel)
        if ch is None:  # nothing published yet: make the channel, so this reader is known
            ch = self._channel(channel)
        env = env_id if env_id is not None else ch.default_env
        queue = ch.direct.get((env, recipient_id))
        direct = (_drain(queue) if clear else list(queue)) if queue else []
        log = ch.broadcast.get(env)
        if log is not None and not log.messages and recipient_id in log.cursors:
            return direct  # a known reader with no broadcast pending: no lock needed
        with self._lock:
            if log is None:  # remember the reader, so later broadcasts wait for it too
                log = ch.broadcast.setdefault(env, _BroadcastLog())
            if not log.messages:
                log.cursors.setdefault(recipient_id, log.base)
                return direct
            shared = log.read(recipient_id, clear)
        if not direct:
            return shared
        merged = direct + shared
        merged.sort(key=_by_timestamp)  # stable: equal times keep publish order per kind
        return merged

    def subscribe(self, channel: str, callback: Callable[[Message], None]) -> None:
        if not callable(callback):
            raise ValueError(f"subscribe expects a callable, got {callback!r}")
        ch = self._channel(channel)
        with self._lock:
            ch.subscribers = [*ch.subscribers, callback]  # copy-on-write: publish iterates safely

    def clear_environment(self, env_id: str) -> None:
        with self._lock:
            for name in list(self._channels):
                ch = self._channels[name]
                if ch.env_id == env_id:
                    del self._channels[name]
                    continue
                for key in [k for k in list(ch.direct) if k[0] == env_id]:
                    del ch.direct[key]
                ch.broadcast.pop(env_id, None)

    def get_environment_channels(self, env_id: str) -> list[str]:
        with self._lock:
            return sorted(
                name
                for name, ch in self._channels.items()
                if ch.env_id == env_id
                or any(k[0] == env_id for k in list(ch.direct))
                or env_id in ch.broadcast
            )

    def pending_count(self, env_id: str | None = None) -> int:
        """Messages still held (queued or not yet read by every known reader)."""
        with self._lock:
            return sum(ch.size(env_id) for ch in self._channels.values())

    def pending_by_queue(self, env_id: str | None = None) -> dict[tuple[str, str, str], int]:
        """Depth of every non-empty queue: (channel, env, recipient or '*' for a broadcast log) -> messages."""
        with self._lock:
            out = {}
            for name, ch in self._channels.items():
                for (env, recipient), queue in list(ch.direct.items()):
                    if queue and env_id in (None, env):
                        out[(name, env, recipient)] = len(queue)
                for env, log in ch.broadcast.items():
                    if log.messages and env_id in (None, env):
                        out[(name, env, BROADCAST)] = len(log.messages)
            return out

    def _full(self, channel: str, queue: str, depth: int) -> None:
        raise ValueError(f"channel {channel!r}, {queue}: {depth} messages pending, the most one queue holds "
                         f"(max_pending={self.max_pending}); is its reader consuming?")

    def close(self) -> None:
        with self._lock:
            self._channels.clear()


def _copied(ch: _Channel) -> _Channel:
    """A channel with its own queues and logs (subscribers stay those of the original)."""
    copy = _Channel(ch.name)
    copy.direct = {key: deque(queue) for key, queue in ch.direct.items()}
    for env, log in ch.broadcast.items():
        copy.broadcast[env] = clone = _BroadcastLog()
        clone.messages, clone.base, clone.cursors = list(log.messages), log.base, dict(log.cursors)
    copy.subscribers = list(ch.subscribers)
    return copy


def _as_message(ch: _Channel, message: Any) -> Message:
    """Wrap a plain dict payload as a broadcast in the channel's environment."""
    if isinstance(message, Mapping):
        return Message._trusted(ch.default_env, "anonymous", BROADCAST, 0.0, MessageType.BROADCAST, message)
    raise ValueError(f"publish expects a Message or a dict payload, got {type(message).__name__}: {message!r}")


_new_message = object.__new__


def _drain(queue: deque[Message]) -> list[Message]:
    """Take the messages queued now, oldest first. Each ``popleft`` is atomic, so a message
    appended meanwhile stays for the next read and a concurrent reader cannot make this fail."""
    out = []
    for _ in range(len(queue)):
        try:
            out.append(queue.popleft())
        except IndexError:  # another reader of the same queue took it
            break
    return out


def _by_timestamp(message: Message) -> float:
    return message.timestamp
