"""Signed messages and access control, on any transport: :class:`SecureBroker` wraps a broker.

Each message travels as a signed envelope: its frame (:mod:`heron.messaging.codec`), a sequence
number (nanoseconds since the epoch, increasing per sender) and an HMAC-SHA256 over the
channel, the sequence number and the frame. A message between the environment and agent X is
signed with X's key (the environment holds every key, a site only its own and its devices'); a
message from one agent to another with the sender's key, an environment's broadcast with the
environment's. Before a message is handed over, its receiver checks, and otherwise rejects and
counts in ``rejected`` (by reason in ``rejections``): that it is an envelope, that the MAC is
right, that the frame's sender, recipient and env are the envelope's, that the channel's policy
(:mod:`heron.messaging.access`) lets that sender publish there, and that its sequence number is
newer than the last taken from that sender on that channel and within ``window`` seconds of now
(a replay, or a copy, is refused; a message taken already, delivered again, is a
``duplicate``). The envelope's shape (a 32-byte MAC, a sequence number in range, a frame
within the size limit) is checked before any work, so a malformed one is counted, never fatal. A process may publish only as, and read only for, the
identities it holds keys for: anything else raises ``PermissionError``.

Keys come from a key file (JSON ``{"MG1": "<hex>", ...}``, see :meth:`Keyring.save`) or from
environment variables ``HERON_KEY_<ID>``; never from code, and they are never printed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from heron.messaging.access import may_publish, may_read
from heron.messaging.base import BROADCAST, DEFAULT_ENV, ENVIRONMENT_ID, BrokerWrapper, ChannelManager, Message, MessageBroker, message_on
from heron.messaging.codec import MAX_FRAME_BYTES, FrameError, decode, encode

__all__ = ["Keyring", "SecureBroker", "sealed"]

MAC_BYTES = 32  # HMAC-SHA256
RECENT = 256  # sequence numbers remembered per (channel, sender), to tell a duplicate from a replay
_FIELD = "\x1f"  # between a mark's channel and sender (no channel or agent id holds it)


class Keyring:
    """Per-identity HMAC keys (bytes). Its repr names the identities, never the keys."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        for identity, key in keys.items():
            if not isinstance(key, bytes) or len(key) < 16:
                raise ValueError(f"key of {identity!r} must be at least 16 bytes")
        self._keys = dict(keys)

    @classmethod
    def generate(cls, identities: Iterable[str]) -> Keyring:
        """A fresh random 32-byte key for each identity."""
        return cls({identity: secrets.token_bytes(32) for identity in identities})

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Keyring:
        """Keys from a key file only its owner may read (as :meth:`save` writes it)."""
        mode = os.stat(path).st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"key file {os.fspath(path)!r} is readable or writable by others (mode {mode:o}); "
                                  f"run: chmod 600 {os.fspath(path)}")
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict):
            raise ValueError(f"key file {os.fspath(path)!r} must hold a JSON object {{identity: hex key}}")
        try:
            keys = {identity: bytes.fromhex(text) for identity, text in data.items()}
        except (TypeError, ValueError):
            raise ValueError(f"key file {os.fspath(path)!r}: every key must be a hex string") from None
        return cls(keys)

    @classmethod
    def from_environment(cls, prefix: str = "HERON_KEY_") -> Keyring:
        """Keys from ``HERON_KEY_<ID>=<hex>`` variables (the identity as spelled after the prefix)."""
        keys = {}
        for name, value in os.environ.items():
            if name.startswith(prefix):
                try:
                    keys[name[len(prefix):]] = bytes.fromhex(value)
                except ValueError:
                    raise ValueError(f"environment variable {name} must hold a hex key") from None
                if len(keys[name[len(prefix):]]) < 16:
                    raise ValueError(f"environment variable {name} must hold a key of at least 16 bytes (32 hex digits)")
        return cls(keys)

    def save(self, path: str | os.PathLike, identities: Iterable[str] | None = None) -> None:
        """Write ``identities``' keys (all by default) to a file only its owner can read: one
        file per site, holding its own keys and its devices'."""
        chosen = self._keys if identities is None else {i: self._keys[i] for i in identities}
        path = os.fspath(path)
        partial = f"{path}.{secrets.token_hex(4)}.part"  # written aside, then put in place at once
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({identity: key.hex() for identity, key in chosen.items()}, f)
            os.chmod(partial, 0o600)  # whatever the umask
            os.replace(partial, path)
        except BaseException:
            if os.path.exists(partial):
                os.unlink(partial)
            raise

    def identities(self) -> set[str]:
        return set(self._keys)

    def key(self, identity: str) -> bytes | None:
        return self._keys.get(identity)

    def __repr__(self) -> str:
        return f"Keyring(identities={sorted(self._keys)})"


def _signer(message: Message) -> str:
    """Whose key signs ``message`` (see the module doc)."""
    if message.sender_id == ENVIRONMENT_ID and message.recipient_id != BROADCAST:
        return message.recipient_id
    return message.sender_id


def _mac(key: bytes, channel: str, seq: int, frame: bytes) -> bytes:
    return hmac.new(key, b"%s\x00%d\x00%s" % (channel.encode(), seq, frame), hashlib.sha256).digest()


def sealed(message: Message, channel: str, key: bytes, seq: int) -> Message:
    """``message`` as it travels: the same addressing, its payload the signed envelope."""
    frame = encode(message)
    return Message(message.env_id, message.sender_id, message.recipient_id, message.timestamp, message.message_type,
                   {"frame": frame, "seq": seq, "mac": _mac(key, channel, seq, frame)})


class SecureBroker(BrokerWrapper):
    """``inner`` with signed messages and access control for a process holding ``keyring``
    (see the module doc). ``identities`` are who this process acts as (default: every identity
    of the keyring, as the env's process in-process); ``window`` (s) bounds a message's age."""

    def __init__(self, inner: MessageBroker, keyring: Keyring, identities: Iterable[str] | None = None,
                 window: float = 300.0) -> None:
        super().__init__(inner)
        self.keyring, self.window = keyring, float(window)
        self.identities = set(identities) if identities is not None else keyring.identities()
        unkeyed = sorted(i for i in self.identities if keyring.key(i) is None and i != ENVIRONMENT_ID)
        if unkeyed:
            raise ValueError(f"SecureBroker: no key for identities {unkeyed}; the keyring holds {sorted(keyring.identities())}")
        self._last_seq = 0
        self._taken: dict[tuple[str, str], int] = {}  # (channel, sender) -> sequence number last taken
        self._recent: dict[tuple[str, str], deque[int]] = {}  # (channel, sender) -> the sequence numbers last taken
        self._loaded: set[tuple[str, str]] = set()  # (env, reader) whose acknowledged marks were read from the transport
        self._unkept: dict[tuple[str, str, str], dict[str, int]] = {}  # (env, reader, channel) -> marks taken, not yet acknowledged
        self.rejected = 0
        self.rejections: dict[str, int] = {}

    def __getstate__(self) -> dict[str, Any]:  # a copy reads what was acknowledged from the transport's marks
        state = dict(self.__dict__)
        state["_taken"], state["_recent"], state["_loaded"], state["_unkept"] = {}, {}, set(), {}
        return state

    # ------------------------------------------------------------------ contract
    def publish(self, channel: str, message: Message | Mapping[str, Any]) -> None:
        message = message_on(channel, message)
        if message.sender_id not in self.identities:
            raise PermissionError(f"this process may publish as {sorted(self.identities)}, not as {message.sender_id!r}")
        if not may_publish(channel, message.sender_id):
            raise PermissionError(f"{message.sender_id!r} may not publish on {channel!r}")
        key = self.keyring.key(_signer(message))
        if key is None:
            raise PermissionError(f"no key to sign a message of {message.sender_id!r} to {message.recipient_id!r}: "
                                  f"the keyring holds {sorted(self.keyring.identities())}")
        self._last_seq = seq = max(time.time_ns(), self._last_seq + 1)
        self.inner.publish(channel, sealed(message, channel, key, seq))

    def consume(self, channel: str, recipient_id: str, env_id: str | None = None, clear: bool = True) -> list[Message]:
        self._may_read(channel, recipient_id)
        env = self._reading(channel, recipient_id, env_id, clear)
        return self._checked(channel, self.inner.consume(channel, recipient_id, env_id, clear), clear, (env, recipient_id))

    def _reading(self, channel: str, recipient_id: str, env_id: str | None, clear: bool) -> str:
        """Before a read: a reader that comes back for more has processed what it took last
        time, which the transport now acknowledges; its marks are kept beside it. A reader's
        first read loads the marks it kept before (in another process, or the original of a
        copy), so what it acknowledged then is refused as ``replayed`` now."""
        env = env_id if env_id is not None else (ChannelManager.env_of(channel) or DEFAULT_ENV)
        if clear:
            unkept = self._unkept.pop((env, recipient_id, channel), None)
            if unkept:
                self.inner.keep_marks(env, recipient_id, unkept)
        if (env, recipient_id) not in self._loaded:
            self._loaded.add((env, recipient_id))
            for field, seq in self.inner.marks(env, recipient_id).items():
                mark_channel, _, sender = field.partition(_FIELD)
                self._taken[(mark_channel, sender)] = max(seq, self._taken.get((mark_channel, sender), 0))
        return env

    def _may_read(self, channel: str, recipient_id: str) -> None:
        if recipient_id not in self.identities:
            raise PermissionError(f"this process may read for {sorted(self.identities)}, not for {recipient_id!r}")
        if not may_read(channel, recipient_id):
            raise PermissionError(f"{recipient_id!r} may not read {channel!r}")

    def _checked(self, channel: str, envelopes: Iterable[Message], clear: bool, reader: tuple[str, str]) -> list[Message]:
        """The messages of ``envelopes`` that pass every check; the others counted by reason."""
        out = []
        for envelope in envelopes:
            message, reason = self._opened(channel, envelope, clear)
            if message is None:
                self.rejected += 1
                self.rejections[reason] = self.rejections.get(reason, 0) + 1
            else:
                out.append(message)
                if clear:
                    marks = self._unkept.setdefault((*reader, channel), {})
                    marks[f"{channel}{_FIELD}{message.sender_id}"] = self._taken[(channel, message.sender_id)]
        return out

    def _opened(self, channel: str, envelope: Message, clear: bool) -> tuple[Message | None, str]:
        """The message inside ``envelope`` if it passes every check, else (None, why). The
        envelope's shape is checked before any work: a malformed one costs nothing."""
        payload = envelope.payload
        if not isinstance(payload, Mapping) or set(payload) != {"frame", "seq", "mac"}:
            return None, "unsigned"
        frame, seq, mac = payload["frame"], payload["seq"], payload["mac"]
        if not isinstance(frame, bytes) or len(frame) > MAX_FRAME_BYTES:
            return None, "malformed frame"
        if type(seq) is not int or not 0 < seq < 2 ** 63:
            return None, "malformed sequence"
        if not isinstance(mac, bytes) or len(mac) != MAC_BYTES:
            return None, "malformed signature"
        key = self.keyring.key(_signer(envelope))
        if key is None:
            return None, "unknown signer"
        if not hmac.compare_digest(_mac(key, channel, seq, frame), mac):
            return None, "bad signature"
        try:
            message = decode(payload["frame"])
        except FrameError:
            return None, "bad signature"  # signed, yet not a frame: a key holder misbehaving
        if (message.env_id, message.sender_id, message.recipient_id) != (envelope.env_id, envelope.sender_id, envelope.recipient_id):
            return None, "bad signature"
        if not may_publish(channel, message.sender_id):
            return None, "not allowed on this channel"
        last = self._taken.get((channel, message.sender_id), 0)
        recent = self._recent.setdefault((channel, message.sender_id), deque(maxlen=RECENT))
        if seq in recent:
            return None, "duplicate"  # one message delivered twice (a retry, the fault model): not an attack
        if seq <= last or abs(time.time_ns() - seq) > self.window * 1e9:
            return None, "replayed"
        if clear:
            self._taken[(channel, message.sender_id)] = seq
            recent.append(seq)
        return message, ""

    def receive(self, channel: str, recipient_id: str, env_id: str, timeout: float) -> list[Message]:
        """The inner transport's wait (a blocking read where it has one), then the checks."""
        self._may_read(channel, recipient_id)
        deadline = time.monotonic() + timeout
        while True:
            env = self._reading(channel, recipient_id, env_id, True)
            envelopes = self.inner.receive(channel, recipient_id, env_id, max(deadline - time.monotonic(), 0.0))
            out = self._checked(channel, envelopes, True, (env, recipient_id))
            if out or time.monotonic() >= deadline:
                return out

    def subscribe(self, channel: str, callback: Callable[[Message], None]) -> None:
        """``callback`` gets each message this object publishes on ``channel`` (as sent, unsigned)."""
        if not callable(callback):
            raise ValueError(f"subscribe expects a callable, got {callback!r}")
        self.inner.subscribe(channel, lambda envelope: callback(decode(envelope.payload["frame"])))

    def close(self) -> None:
        """The transport acknowledges on closing what was taken: keep its marks, then close."""
        try:
            for (env, reader, _), marks in self._unkept.items():
                self.inner.keep_marks(env, reader, marks)
        except ConnectionError:  # a broker that is gone keeps nothing
            pass
        self._unkept.clear()
        self.inner.close()
