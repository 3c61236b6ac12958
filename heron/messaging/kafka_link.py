"""One process's connection to a Kafka server: its producer, its admin client, the topics it
made, and how it tells a server that is gone from one that lost its data.

Every record is sent by the idempotent producer (``acks=all``) and waited for, so a send
returns only once the server has it. A send not acknowledged within 2 s asks the server whether
the topic is still the one it was: a server that came back without its data (a topic gone, or
made again, empty, when a client asked for it) raises
:class:`~heron.messaging.base.BrokerLost` at once instead of a wait of 30 s. A server found gone
is waited for ``connect_timeout`` seconds at most afterwards, so closing never hangs on it.
A topic is known by its id (the server's, taken when this link first uses it): a server that
restarted empty makes it again under another id, while its end offsets alone cannot tell (Tansu
reports them late, even lower than before, while producers write).
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from typing import Any

from heron.messaging.base import BrokerLost

__all__ = ["KafkaLink", "kept_by_forked_children"]

#: librdkafka's own log lines (connection retries) go here, not to stderr: errors reach the caller as exceptions.
LOG = logging.getLogger("heron.messaging.kafka")

_HOLDERS: "weakref.WeakSet[Any]" = weakref.WeakSet()  # objects holding librdkafka clients, as ``kafka_clients()``
_INHERITED: list[Any] = []  # a forked child's inherited clients: kept, never destroyed there


def kept_by_forked_children(holder: Any) -> None:
    """Register ``holder`` (it has ``kafka_clients()``): a process forked later keeps those clients.

    librdkafka's threads stay in the parent; destroying an inherited client in the child (its
    garbage collector does, for a holder the parent had already dropped) crashes the child
    (SIGSEGV or SIGABRT). The child cannot use them either way; it holds them until it exits.
    """
    _HOLDERS.add(holder)


def _keep_inherited_clients() -> None:
    for holder in list(_HOLDERS):
        _INHERITED.extend(c for c in holder.kafka_clients() if c is not None)


os.register_at_fork(after_in_child=_keep_inherited_clients)


class KafkaLink:
    """Producer and admin client of ``common`` (librdkafka settings, ``bootstrap.servers`` among them)."""

    def __init__(self, common: dict[str, Any], connect_timeout: float) -> None:
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient

        self.common, self.servers, self.connect_timeout = common, common["bootstrap.servers"], connect_timeout
        self.admin = AdminClient({**common, "logger": LOG})
        try:
            self.topics = set(self.admin.list_topics(timeout=connect_timeout).topics)
        except Exception as error:
            raise ConnectionError(f"Kafka at {self.servers!r} cannot be reached: {error}") from None
        self.producer = Producer({**common, "enable.idempotence": True, "acks": "all", "linger.ms": 0,
                                  "batch.num.messages": 1, "logger": LOG})
        self.produced: dict[str, int] = {}  # topic -> the last offset acknowledged to this link
        self.topic_ids: dict[str, str] = {}  # topic -> the server's id of it when this link first used it
        self.unreachable = False  # the last record sent was not acknowledged in time
        self.lock = threading.Lock()
        kept_by_forked_children(self)

    def kafka_clients(self) -> tuple[Any, ...]:
        return self.admin, self.producer

    def ensure(self, topic: str) -> str:
        """``topic``, made (one partition) if this link has not seen it."""
        if topic not in self.topics:
            from confluent_kafka import KafkaException
            from confluent_kafka.admin import NewTopic

            for future in self.admin.create_topics([NewTopic(topic, 1, 1)]).values():
                try:
                    future.result()
                except KafkaException as error:
                    if "TOPIC_ALREADY_EXISTS" not in str(error):
                        raise
            self.topics.add(topic)
        if topic not in self.topic_ids:
            from confluent_kafka import KafkaException

            with contextlib.suppress(KafkaException):  # a server without topic ids: only a topic gone tells a loss
                self.topic_ids[topic] = self.topic_id(topic)
        return topic

    def topic_id(self, topic: str) -> str:
        """The server's id of ``topic`` now."""
        from confluent_kafka import TopicCollection

        asked = self.admin.describe_topics(TopicCollection([topic]), request_timeout=self.connect_timeout)
        return str(asked[topic].result().topic_id)

    def send(self, topic: str, key: bytes, value: bytes, what: str, headers: list[tuple[str, bytes]] | None = None) -> int:
        """Produce one record and wait for its acknowledgement (30 s at most); its offset."""
        delivered: list[Any] = []
        wait = self.connect_timeout if self.unreachable else 30.0
        before = self.produced.get(topic, -1)  # acknowledged before this record was sent: it must come after
        self.producer.produce(topic, key=key, value=value, headers=headers, on_delivery=lambda *report: delivered.append(report))
        if self.producer.flush(min(2.0, wait)):
            if self.lost_data(topic):
                self.producer.purge()
                self.producer.flush(0.0)
                raise self.lost(topic)
            if self.producer.flush(max(wait - 2.0, 0.0)):
                self.unreachable = True
                raise ConnectionError(f"Kafka at {self.servers!r} did not acknowledge {what} within {wait:g} s")
        self.unreachable = False
        error, record = delivered[0]
        if error is not None:
            raise ConnectionError(f"Kafka at {self.servers!r} refused {what}: {error}")
        if record.offset() <= before:  # offsets of one partition only grow
            raise self.lost(topic)
        with self.lock:  # threads sending at once are acknowledged in any order
            self.produced[topic] = max(record.offset(), self.produced.get(topic, -1))
        return record.offset()

    def lost_data(self, topic: str) -> bool:
        """Whether the server answers and has lost ``topic``: it no longer has it, or has it
        under another id (made again since this link first used it)."""
        from confluent_kafka import KafkaException

        try:
            if topic not in self.admin.list_topics(timeout=self.connect_timeout).topics:
                return True
            return topic in self.topic_ids and self.topic_id(topic) != self.topic_ids[topic]
        except KafkaException:  # no answer: gone or slow, not known to have lost anything
            return False

    def lost(self, topic: str) -> BrokerLost:
        return BrokerLost(f"Kafka at {self.servers!r} restarted without its data: {topic} is gone or was made again "
                          "(every message in flight, reader position and lease on it is lost); start the env and its sites again")

    def alive(self) -> bool:
        """Whether the server answers now (not asked again once found gone)."""
        from confluent_kafka import KafkaException

        try:
            return not self.unreachable and self.admin.list_topics(timeout=self.connect_timeout) is not None
        except KafkaException:
            return False
