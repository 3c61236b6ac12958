"""A keyed log on Kafka: where :class:`~heron.messaging.kafka.KafkaBroker` keeps what Redis keeps
in keys (leases on identities, readers' replay marks).

One single-partition topic, appended to by the broker's ``send`` (its idempotent producer, an
acknowledgement awaited; it returns the record's offset) and read from its start, strictly in offset order, by a consumer of this object's own (no group offsets: every
process reads the whole log, so all reach the same state from the same records). A log whose
end falls below what this object read means the server lost it: :class:`BrokerLost`.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import msgpack

from heron.messaging.base import BrokerLost
from heron.messaging.kafka_link import kept_by_forked_children
from heron.messaging.leases import LeaseLog, holder_died

__all__ = ["KeyedLog", "LeaseRecords", "MarkRecords"]


class KeyedLog:
    """The records of ``topic`` (created by the caller) as ``(key, value)`` pairs, in order;
    ``append(key, value)`` adds one and returns its offset."""

    def __init__(self, common: dict[str, Any], topic: str, servers: str, send: Callable[[bytes, bytes], int],
                 timeout: float = 10.0) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.topic, self.servers, self.timeout, self.append = topic, servers, timeout, send
        self._consumer = Consumer({**common, "group.id": f"heron-log-{uuid.uuid4().hex}", "enable.auto.commit": False,
                                   "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10})
        self._consumer.assign([TopicPartition(topic, 0, 0)])
        self.next = 0  # the offset read next
        kept_by_forked_children(self)

    def kafka_clients(self) -> tuple[Any, ...]:
        return (self._consumer,)

    def read(self, until: int = -1) -> list[tuple[bytes, bytes]]:
        """The records not read yet, up to the log's end now and at least to offset ``until``."""
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        try:
            _, end = self._consumer.get_watermark_offsets(TopicPartition(self.topic, 0), timeout=self.timeout, cached=False)
        except KafkaException as error:
            if error.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:  # a server back empty
                raise BrokerLost(f"Kafka at {self.servers!r} restarted without its data: {self.topic} is gone; "
                                 "start the env and its sites again") from None
            raise ConnectionError(f"Kafka at {self.servers!r}: the end of {self.topic} is not known: {error}") from None
        if end < self.next:
            raise BrokerLost(f"Kafka at {self.servers!r} holds {end} records of {self.topic}, of which this process had read "
                             f"{self.next}: it restarted without its data; start the env and its sites again")
        records, deadline = [], time.monotonic() + self.timeout
        while self.next < max(end, until + 1):
            if time.monotonic() > deadline:
                raise ConnectionError(f"Kafka at {self.servers!r}: {self.topic} did not deliver offsets "
                                      f"{self.next}..{max(end, until + 1) - 1} within {self.timeout:g} s")
            record = self._consumer.poll(0.5)
            if record is None or record.error() or record.offset() < self.next:
                continue
            if record.offset() > self.next:  # an earlier offset is not readable yet: fetch from it again
                self._consumer.seek(TopicPartition(self.topic, 0, self.next))
                continue
            self.next += 1
            records.append((record.key() or b"", record.value() or b""))
        return records

    def close(self) -> None:
        self._consumer.close()


class LeaseRecords:
    """Leases kept in a :class:`KeyedLog`, one record ``[kind, holder, at_ms, replaces]`` each
    (see :class:`~heron.messaging.leases.LeaseLog`), for the holder named ``holder``."""

    def __init__(self, log: KeyedLog, holder: bytes, on_malformed: Callable[[], None]) -> None:
        self.log, self.holder, self.on_malformed, self.state = log, holder, on_malformed, LeaseLog()

    def hold(self, key: bytes, kind: str) -> bytes | None:
        """Append a ``claim`` or ``renew`` of ``key`` and read up to it: who holds the lease there."""
        self._apply(self.log.read())
        held = self.state.holder(key)
        replaces = held if held is not None and held != self.holder and holder_died(held) else None
        offset = self.log.append(key, msgpack.packb([kind, self.holder, _now_ms(), replaces]))
        self._apply(self.log.read(until=offset))
        return self.state.holder(key)

    def release(self, key: bytes) -> None:
        self.log.append(key, msgpack.packb(["release", self.holder, _now_ms(), None]))

    def _apply(self, records: list[tuple[bytes, bytes]]) -> None:
        for key, value in records:
            try:
                kind, holder, at_ms, replaces = msgpack.unpackb(value)
                self.state.apply(key, kind, holder, int(at_ms), replaces)
            except Exception:  # not a lease record: it claims nothing
                self.on_malformed()


class MarkRecords:
    """Readers' replay marks kept in a :class:`KeyedLog`: each record holds all of one reader's
    marks, so the last record of a key is what it acknowledged."""

    def __init__(self, log: KeyedLog, on_malformed: Callable[[], None]) -> None:
        self.log, self.on_malformed = log, on_malformed
        self.kept: dict[bytes, dict[str, int]] = {}

    def read(self, key: bytes) -> dict[str, int]:
        for record_key, value in self.log.read():
            try:
                self.kept[record_key] = {str(field): int(seq) for field, seq in msgpack.unpackb(value).items()}
            except Exception:  # not a record of marks
                self.on_malformed()
        return dict(self.kept.get(key, {}))

    def keep(self, key: bytes, marks: Mapping[str, int]) -> None:
        kept = self.kept.setdefault(key, {})
        kept.update({field: max(seq, kept.get(field, seq)) for field, seq in marks.items()})
        self.log.append(key, msgpack.packb(kept))


def _now_ms() -> int:
    return int(time.time() * 1000)
