"""Messages and the broker contract that every transport (in-memory, Kafka, Redis) fulfils."""
from __future__ import annotations

import enum
import gc
import math
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from heron.messaging.channels import ChannelManager

__all__ = ["Message", "MessageType", "MessageBroker", "ChannelManager", "BROADCAST", "DEFAULT_ENV", "ENVIRONMENT_ID", "BrokerLost", "BrokerWrapper", "claimed_already", "message_on"]

#: Recipient id of a message meant for every consumer of a channel.
BROADCAST = "*"
#: The environment's agent id: the sender of commands and results, the reader of reports.
ENVIRONMENT_ID = "environment"
#: Environment id used when a message or channel names none.
DEFAULT_ENV = "default"


class BrokerLost(ConnectionError):
    """The broker came back without its data (it restarted empty): the messages in flight, the
    readers' positions and the claims on it are gone. Nothing resumes from that: start the env
    and its sites again."""


def claimed_already(env_id: str, site: str | None, holder: str) -> str:
    """The refusal of a second claim on an env's id or a site's identity, naming both sides."""
    if site is None:
        return (f"env_id {env_id!r} is already in use by {holder}; give each env its own env_id (or leave it None "
                "for a fresh one; a copy of an env on a networked broker cannot share its id)")
    return (f"site {site!r} of env {env_id!r} is already served by {holder}; run each site once "
            "(stop the other process, or wait for its lease to end if it crashed)")


class MessageType(enum.Enum):
    ACTION = "action"
    INFO = "info"
    BROADCAST = "broadcast"
    STATE_UPDATE = "state_update"
    RESULT = "result"
    CUSTOM = "custom"

    @classmethod
    def coerce(cls, value: "MessageType | str") -> "MessageType":
        """Accept a member, its value (``'action'``) or its name (``'ACTION'``)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            member = _TYPE_BY_TEXT.get(value) or _TYPE_BY_TEXT.get(value.lower())
            if member is not None:
                return member
        valid = ", ".join(m.name for m in cls)
        raise ValueError(f"unknown message_type {value!r}; expected one of {valid}")


_TYPE_BY_TEXT = {**{m.value: m for m in MessageType}, **{m.name: m for m in MessageType}}
_FIELDS = ("env_id", "sender_id", "recipient_id", "timestamp", "message_type", "payload")


class Message:
    """One message on a channel. ``payload`` is a dict; ``recipient_id='*'`` broadcasts."""

    __slots__ = _FIELDS

    def __init__(
        self,
        env_id: str,
        sender_id: str,
        recipient_id: str,
        timestamp: float,
        message_type: MessageType | str,
        payload: Mapping[str, Any],
    ) -> None:
        if type(message_type) is not MessageType:
            message_type = MessageType.coerce(message_type)
        if type(payload) is not dict and not isinstance(payload, Mapping):
            raise ValueError(f"message payload must be a dict, got {type(payload).__name__}: {payload!r}")
        if not (type(env_id) is str and env_id and type(sender_id) is str and sender_id
                and type(recipient_id) is str and recipient_id):
            for name, value in (("env_id", env_id), ("sender_id", sender_id), ("recipient_id", recipient_id)):
                if not isinstance(value, str) or not value:
                    raise ValueError(f"message {name} must be a non-empty string, got {value!r}")
        if type(timestamp) is float:
            time = timestamp
        elif isinstance(timestamp, (bool, str, bytes)):  # float() would take them, a clock would not
            time = math.nan
        else:
            try:
                time = float(timestamp)
            except (TypeError, ValueError, OverflowError):
                time = math.nan
        if not math.isfinite(time):  # brokers order messages by it
            raise ValueError(f"message timestamp must be a finite number, got {timestamp!r}")
        self.env_id = env_id
        self.sender_id = sender_id
        self.recipient_id = recipient_id
        self.timestamp = time
        self.message_type = message_type
        self.payload = payload

    @classmethod
    def _trusted(cls, env_id, sender_id, recipient_id, timestamp, message_type, payload) -> "Message":
        """Construct from parts already known to be valid (the broker's hot path)."""
        self = object.__new__(cls)
        self.env_id = env_id
        self.sender_id = sender_id
        self.recipient_id = recipient_id
        self.timestamp = timestamp
        self.message_type = message_type
        self.payload = payload
        return self

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Message":
        """Build a message from its dict form; a missing or unknown field raises ``ValueError``."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a message must be a dict with fields {_FIELDS}, got {type(data).__name__}")
        missing = [f for f in _FIELDS if f not in data]
        if missing:
            raise ValueError(f"malformed message: missing field(s) {missing}; got fields {sorted(data)}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"malformed message: unknown field(s) {unknown}; expected {list(_FIELDS)}")
        return cls(**{f: data[f] for f in _FIELDS})

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (message_type as its value string), e.g. for JSON transports."""
        out = {f: getattr(self, f) for f in _FIELDS}
        out["message_type"] = self.message_type.value
        out["payload"] = dict(self.payload)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _FIELDS)

    def __repr__(self) -> str:
        return (
            f"Message(env_id={self.env_id!r}, sender_id={self.sender_id!r}, recipient_id={self.recipient_id!r}, "
            f"timestamp={self.timestamp!r}, message_type={self.message_type.name}, payload={self.payload!r})"
        )


def message_on(channel: str, message: Message | Mapping[str, Any]) -> Message:
    """What a broker publishes on ``channel``: a Message as it is (one of another env than an
    env's channel raises), a plain dict payload as a broadcast in the channel's environment."""
    if not isinstance(channel, str) or not channel:
        raise ValueError(f"channel must be a non-empty string, got {channel!r}")
    env = ChannelManager.env_of(channel)
    if isinstance(message, Message):
        if env is not None and message.env_id != env:
            raise ValueError(f"message for env_id {message.env_id!r} published on channel {channel!r} of env {env!r}")
        return message
    if isinstance(message, Mapping):
        return Message(env or DEFAULT_ENV, "anonymous", BROADCAST, 0.0, MessageType.BROADCAST, dict(message))
    raise ValueError(f"publish expects a Message or a dict payload, got {type(message).__name__}: {message!r}")


class MessageBroker(ABC):
    """Publish/consume transport between agents and environments.

    Channels are named by :class:`ChannelManager`; every message carries its ``env_id`` and a
    broker never delivers a message of one environment to a consumer asking for another.
    """

    @abstractmethod
    def create_channel(self, channel: str) -> None:
        """Declare a channel (idempotent)."""

    @abstractmethod
    def publish(self, channel: str, message: Message | Mapping[str, Any]) -> None:
        """Append a message (or a plain dict payload, sent as a broadcast) to a channel."""

    @abstractmethod
    def consume(self, channel: str, recipient_id: str, env_id: str = DEFAULT_ENV, clear: bool = True) -> list[Message]:
        """Messages on ``channel`` for ``recipient_id`` in ``env_id``, oldest first."""

    @abstractmethod
    def subscribe(self, channel: str, callback: Callable[[Message], None]) -> None:
        """Call ``callback(message)`` for every message later published on ``channel``."""

    @abstractmethod
    def clear_environment(self, env_id: str) -> None:
        """Drop every queued message and channel of one environment."""

    @abstractmethod
    def get_environment_channels(self, env_id: str) -> list[str]:
        """Channels that currently hold state for ``env_id``."""

    def receive(self, channel: str, recipient_id: str, env_id: str, timeout: float) -> list[Message]:
        """Wait up to ``timeout`` seconds for messages on ``channel`` for ``recipient_id`` and take
        them (``[]`` if none came): how a process on a real transport waits for its next message."""
        deadline, pause = time.monotonic() + timeout, 1e-4
        while True:
            messages = self.consume(channel, recipient_id, env_id)
            if messages or time.monotonic() >= deadline:
                return messages
            time.sleep(pause)
            pause = min(pause * 2.0, 2e-3)

    def claim_environment(self, env_id: str, owner: object, site: str | None = None) -> None:
        """Reserve ``env_id`` for ``owner`` (an env), or with ``site`` that site's identity in the
        env for ``owner`` (the process serving it): a second live owner of the same env or site
        raises ``ValueError``, since both would consume each other's messages. Released when
        the owner is garbage-collected or calls ``release_environment``. Networked brokers
        also hold the claim on their server, across processes (:class:`RedisBroker`)."""
        claims = self.__dict__.setdefault("_claims", {})
        held = claims.get((env_id, site))
        current = held() if held is not None else None
        if current is not None and current is not owner:
            del current
            gc.collect()  # an env dropped but caught in a reference cycle still holds its claim
            current = held()
        if current is not None and current is not owner:
            raise ValueError(claimed_already(env_id, site, "another owner in this process"))
        claims[(env_id, site)] = weakref.ref(owner)

    def marks(self, env_id: str, reader: str) -> dict[str, int]:
        """What ``reader`` acknowledged in env ``env_id``: per ``"<channel>\x1f<sender>"`` the
        newest sequence number (:class:`~heron.messaging.security.SecureBroker`'s replay
        protection, kept where the transport keeps its readers' positions, so a reader that
        restarts, or a copy, still refuses what it took before). Here: in this broker object."""
        return dict(self.__dict__.get("_marks", {}).get((env_id, reader), {}))

    def keep_marks(self, env_id: str, reader: str, marks: Mapping[str, int]) -> None:
        """Record ``marks`` (see :meth:`marks`) for ``reader`` in env ``env_id``."""
        self.__dict__.setdefault("_marks", {}).setdefault((env_id, reader), {}).update(marks)

    def release_environment(self, env_id: str, owner: object, site: str | None = None) -> None:
        """Give ``env_id`` (or ``site`` in it) back (``owner`` must hold it)."""
        claims = self.__dict__.get("_claims", {})
        held = claims.get((env_id, site))
        if held is not None and held() is owner:
            del claims[(env_id, site)]

    def close(self) -> None:
        """Release transport resources; the in-memory broker holds none."""


class BrokerWrapper(MessageBroker):
    """A broker over another (``inner``) that changes some of what passes through (faults,
    signatures): everything it does not override goes to ``inner`` unchanged, claims included,
    so an env's or a site's claim is held where the messages travel."""

    def __init__(self, inner: MessageBroker) -> None:
        if not isinstance(inner, MessageBroker):
            raise ValueError(f"{type(self).__name__} wraps a MessageBroker, got {inner!r}")
        self.inner = inner

    def create_channel(self, channel: str) -> None:
        self.inner.create_channel(channel)

    def publish(self, channel: str, message: Message | Mapping[str, Any]) -> None:
        self.inner.publish(channel, message)

    def consume(self, channel: str, recipient_id: str, env_id: str | None = None, clear: bool = True) -> list[Message]:
        return self.inner.consume(channel, recipient_id, env_id, clear)

    def receive(self, channel: str, recipient_id: str, env_id: str, timeout: float) -> list[Message]:
        return self.inner.receive(channel, recipient_id, env_id, timeout)

    def subscribe(self, channel: str, callback: Callable[[Message], None]) -> None:
        self.inner.subscribe(channel, callback)

    def clear_environment(self, env_id: str) -> None:
        self.inner.clear_environment(env_id)

    def get_environment_channels(self, env_id: str) -> list[str]:
        return self.inner.get_environment_channels(env_id)

    def claim_environment(self, env_id: str, owner: object, site: str | None = None) -> None:
        self.inner.claim_environment(env_id, owner, site)

    def marks(self, env_id: str, reader: str) -> dict[str, int]:
        return self.inner.marks(env_id, reader)

    def keep_marks(self, env_id: str, reader: str, marks: Mapping[str, int]) -> None:
        self.inner.keep_marks(env_id, reader, marks)

    def release_environment(self, env_id: str, owner: object, site: str | None = None) -> None:
        self.inner.release_environment(env_id, owner, site)

    def close(self) -> None:
        self.inner.close()
