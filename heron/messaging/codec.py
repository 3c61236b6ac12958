"""The wire format of a message between processes: one codec for every transport.

A frame is msgpack: ``[b"HRN", version, env_id, sender_id, recipient_id, timestamp, type, payload]``,
preceded, when the payload holds numpy arrays, by their table: a msgpack extension holding the
arrays grouped by dtype and shape, each group's rows one after another. In the payload an array
is a reference to its group, and it arrives as that group's next row, bit for bit. Thousands of
small arrays thus cost one numpy call per group and a few hundred nanoseconds each, not a
parse of their own. A frame that is not msgpack, lacks the magic, has another version or a
malformed field raises :class:`FrameError` naming what is wrong; nothing of it is applied.
"""
from __future__ import annotations

import functools
import math
import struct
from typing import Any, Callable

import msgpack
import numpy as np

from heron.messaging.base import Message, MessageType

__all__ = ["encode", "decode", "FrameError", "VERSION", "MAX_FRAME_BYTES"]

MAX_FRAME_BYTES = 100 * 2 ** 20  # msgpack reads no larger buffer by default: encode refuses what decode would
MAGIC = b"HRN"
VERSION = 2
_TABLE = 2  # msgpack extension code of a frame's array table
_REFERENCE = 3  # msgpack extension code of "the next row of array group N"
_REFERENCES = [msgpack.ExtType(_REFERENCE, msgpack.packb(index)) for index in range(128)]  # made once: an ExtType costs µs
_TABLE_START = struct.Struct(">BIbI")  # msgpack's ext 32 header (0xC9, size, code), then the length of the table's header


class FrameError(ValueError):
    """A frame this codec cannot read: malformed, foreign or of another version."""


class _ArrayWriter:
    """Collects a payload's arrays by (dtype, shape) while msgpack writes the rest."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, tuple[int, ...]], tuple[msgpack.ExtType, list[np.ndarray]]] = {}
        self.nbytes = 0

    def default(self, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject or value.dtype.names is not None:
                raise TypeError(f"an array of {value.dtype} cannot be sent; send arrays of numbers, booleans or text")
            key = (value.dtype.str, value.shape)
            group = self.groups.get(key)
            if group is None:
                index = len(self.groups)
                reference = _REFERENCES[index] if index < 128 else msgpack.ExtType(_REFERENCE, msgpack.packb(index))
                group = self.groups[key] = (reference, [])
            group[1].append(value if value.flags.c_contiguous else np.ascontiguousarray(value))
            self.nbytes += value.nbytes
            return group[0]
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"a message payload cannot hold a {type(value).__name__}: {value!r}")

    def table(self) -> tuple[list[Any], int]:
        """The table as chunks for ``bytes.join``, which joins C-contiguous arrays without a copy (the
        length of its header, the header: dtype, shape and count of each group, the rows), and its size."""
        groups = self.groups
        header = _header_of(tuple((key, len(arrays)) for key, (_, arrays) in groups.items()))
        size = 4 + len(header) + self.nbytes
        start = _TABLE_START.pack(0xC9, size, _TABLE, len(header))
        if len(groups) == 1:
            return [start, header, *next(iter(groups.values()))[1]], 6 + size
        return [start, header, *(array for _, arrays in groups.values() for array in arrays)], 6 + size


@functools.lru_cache(maxsize=256)  # a process sends the same few kinds of message again and again
def _header_of(groups: tuple[tuple[tuple[str, tuple[int, ...]], int], ...]) -> bytes:
    return msgpack.packb([[dtype, list(shape), count] for (dtype, shape), count in groups])


@functools.lru_cache(maxsize=256)
def _groups_of(header: bytes) -> tuple[tuple[np.dtype, tuple[int, ...], int, int], ...]:
    """Each group's dtype, shape, count and size in bytes; ``ValueError`` for any header that is not one."""
    groups = []
    for index, (dtype_text, shape, count) in enumerate(msgpack.unpackb(header, raw=False)):
        dtype, shape = np.dtype(dtype_text), tuple(shape)
        if dtype.hasobject or type(count) is not int or count < 1 or any(type(n) is not int or n < 0 for n in shape):
            raise ValueError(f"group {index}: dtype {dtype_text!r}, shape {shape}, count {count}")
        groups.append((dtype, shape, count, dtype.itemsize * math.prod(shape) * count))
    return tuple(groups)


def _read_table(data: memoryview) -> dict[bytes, Callable[[], np.ndarray]]:
    """For each group's reference, a function handing out its next row: a row is made when its
    reference is met, so a hostile table of empty rows costs nothing it does not name."""
    try:
        (length,) = struct.unpack_from(">I", data)
        offset = 4 + length
        if offset > len(data):
            raise ValueError(f"its header of {length} bytes is longer than the table")
        takers = {}
        for index, (dtype, shape, count, size) in enumerate(_groups_of(bytes(data[4:offset]))):
            if offset + size > len(data):
                raise ValueError(f"group {index} needs {size} bytes, the table has {len(data) - offset} left")
            block = np.frombuffer(data, dtype, count=size // dtype.itemsize if dtype.itemsize else 0, offset=offset)
            if count == 1:
                rows = iter((block.reshape(shape).copy(),))
            else:  # one copy for the group
                block = block.reshape((count, *shape) if shape else (count, 1)).copy()
                rows = iter(block) if shape else (row.reshape(()) for row in block)
            takers[_REFERENCES[index].data if index < 128 else msgpack.packb(index)] = rows.__next__
            offset += size
    except Exception as error:  # anything a hostile table could provoke
        raise FrameError(f"malformed array table in a frame ({type(error).__name__}: {error})") from None
    if offset != len(data):
        raise FrameError(f"array table has {len(data) - offset} bytes beyond its arrays")
    return takers


def _reference_reader(takers: dict[bytes, Callable[[], np.ndarray]]) -> Callable[[int, bytes], np.ndarray]:
    def hook(code: int, data: bytes, takers: dict[bytes, Callable[[], np.ndarray]] = takers) -> np.ndarray:
        if code == _REFERENCE:  # called once an array: locals only
            try:
                return takers[data]()
            except (KeyError, StopIteration):
                raise FrameError(f"array reference {data!r} names no array left in the frame's table") from None
        raise FrameError(f"unexpected msgpack extension {code} in a frame's payload")
    return hook


_NO_ARRAYS = _reference_reader({})


def encode(message: Message) -> bytes:
    """The frame of ``message``; a payload that cannot be sent raises ``ValueError`` naming it."""
    writer = _ArrayWriter()
    try:
        fields = msgpack.packb([MAGIC, VERSION, message.env_id, message.sender_id, message.recipient_id,
                                float(message.timestamp), message.message_type.value, message.payload],
                               default=writer.default, use_bin_type=True)
        table, table_size = writer.table() if writer.groups else ((), 0)
    except (TypeError, ValueError) as error:
        raise ValueError(f"message from {message.sender_id!r} to {message.recipient_id!r} cannot be encoded: {error}") from None
    if table_size + len(fields) > MAX_FRAME_BYTES:
        raise ValueError(f"message from {message.sender_id!r} to {message.recipient_id!r} is {table_size + len(fields)} bytes "
                         f"encoded; a frame holds at most {MAX_FRAME_BYTES} (send its parts in several messages)")
    return b"".join((*table, fields)) if table else fields


def decode(frame: bytes) -> Message:
    """The message of a frame; :class:`FrameError` if it is not a frame of this version."""
    view, hook = frame, _NO_ARRAYS
    if frame[:1] == b"\xc9" and frame[5:6] == b"\x02":  # an array table (extension _TABLE) comes first
        view = memoryview(frame)
        (size,) = struct.unpack_from(">I", view, 1)
        hook = _reference_reader(_read_table(view[6:6 + size]))
        view = view[6 + size:]
    try:
        fields = msgpack.unpackb(view, raw=False, ext_hook=hook, strict_map_key=False)
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
