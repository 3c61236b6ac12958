"""The wire format of a message between processes: one codec for every transport.

A frame is msgpack: ``[b"HRN", version, env_id, sender_id, recipient_id, timestamp, type, payload]``.
Payloads are what agents exchange: numbers, text, lists, dicts and numpy arrays (a msgpack
extension carrying dtype, shape and the raw bytes, so an array arrives bit for bit). A frame
that is not msgpack, lacks the magic, has another version or a malformed field raises
:class:`FrameError` naming what is wrong; nothing of it is applied.
"""
from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from heron.messaging.base import Message, MessageType

__all__ = ["encode", "decode", "FrameError", "VERSION", "MAX_FRAME_BYTES"]

MAX_FRAME_BYTES = 100 * 2 ** 20  # msgpack reads no larger buffer by default: encode refuses what decode would
MAGIC = b"HRN"
VERSION = 1
_ARRAY = 1  # msgpack extension code of a numpy array


class FrameError(ValueError):
    """A frame this codec cannot read: malformed, foreign or of another version."""


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("an array of Python objects cannot be sent; send numbers")
        array = np.ascontiguousarray(value)
        header = msgpack.packb([array.dtype.str, list(array.shape)])
        return msgpack.ExtType(_ARRAY, header + array.tobytes())
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"a message payload cannot hold a {type(value).__name__}: {value!r}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code != _ARRAY:
        raise FrameError(f"unknown msgpack extension {code} in a frame")
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    dtype, shape = next(unpacker)
    offset = unpacker.tell()
    array = np.frombuffer(data, dtype=np.dtype(dtype), offset=offset)
    return array.reshape(shape).copy()


def encode(message: Message) -> bytes:
    """The frame of ``message``; a payload that cannot be sent raises ``ValueError`` naming it."""
    try:
        frame = msgpack.packb([MAGIC, VERSION, message.env_id, message.sender_id, message.recipient_id, float(message.timestamp),
                               message.message_type.value, message.payload], default=_default, use_bin_type=True)
    except (TypeError, ValueError) as error:
        raise ValueError(f"message from {message.sender_id!r} to {message.recipient_id!r} cannot be encoded: {error}") from None
    if len(frame) > MAX_FRAME_BYTES:
        raise ValueError(f"message from {message.sender_id!r} to {message.recipient_id!r} is {len(frame)} bytes encoded; "
                         f"a frame holds at most {MAX_FRAME_BYTES} (send its parts in several messages)")
    return frame


def decode(frame: bytes) -> Message:
    """The message of a frame; :class:`FrameError` if it is not a frame of this version."""
    try:
        fields = msgpack.unpackb(frame, raw=False, ext_hook=_ext_hook, strict_map_key=False)
    except FrameError:
        raise
    except Exception as error:  # msgpack raises several types for garbage
        raise FrameError(f"not a message frame ({type(error).__name__}: {error}); first bytes {bytes(frame[:16])!r}") from None
    if not isinstance(fields, list) or len(fields) != 8 or fields[0] != MAGIC:
        raise FrameError(f"not a HERON message frame: {str(fields)[:80]}")
    if fields[1] != VERSION:
        raise FrameError(f"frame version {fields[1]!r}; this codec reads version {VERSION}")
    _, _, env_id, sender, recipient, timestamp, kind, payload = fields
    try:
        return Message(env_id, sender, recipient, timestamp, MessageType(kind), payload)
    except (TypeError, ValueError) as error:
        raise FrameError(f"malformed message fields: {error}") from None
