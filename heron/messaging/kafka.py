"""KafkaBroker: the broker contract on Kafka (confluent-kafka), for agents in separate processes.

One topic per channel kind (``<prefix>.action``, ``<prefix>.state_updates``...), one
partition, each message keyed by its recipient with its channel in a header: many channels
share few topics, which Kafka servers handle far better than a topic per channel. Each reader
(env, recipient) is a consumer of its own group (``<group_id>.<env>.<recipient>``) with its
partitions assigned, not subscribed (no group rebalance to wait for); it reads a topic up to
its end offset at the time of the read, keeps what is for it (its own messages and the env's
broadcasts, in order) and commits the offsets of a read when it comes back for the next one,
so a reader that restarts reads again what it had not finished. The producer is idempotent
with ``acks=all`` and every publish is flushed before it returns, one message a batch (some
servers, Tansu among them, report a batch's first offset + 1 as the end offset).
Frames are :mod:`heron.messaging.codec`'s; a frame that is not one is counted in ``rejected``.

Security settings (``security_protocol``, ``sasl_*``, ``ssl_ca_location``) pass through to
librdkafka, as any other librdkafka setting: in ``config`` by its name (``{"fetch.wait.max.ms": 5}``)
or as a keyword with underscores for dots (``fetch_wait_max_ms=5``).
"""
from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from heron.messaging.base import BROADCAST, DEFAULT_ENV, Message, MessageBroker, claimed_already, message_on
from heron.messaging.channels import ChannelManager
from heron.messaging.codec import FrameError, decode, encode
from heron.messaging.kafka_link import LOG, KafkaLink, kept_by_forked_children
from heron.messaging.kafka_log import KeyedLog, LeaseRecords, MarkRecords
from heron.messaging.leases import due_for_renewal, holder_name, new_holder

__all__ = ["KafkaBroker"]

_TOPIC_CHARS = re.compile(r"[^A-Za-z0-9._-]")
#: How long a read waits for a fetch beyond the reported end offset when its channel has nothing
#: yet (s): twice the consumers' fetch.wait.max.ms, the longest a server holds a fetch.
_SETTLE = 0.02


def channel_kind(channel: str) -> str:
    """The kind of a channel (``action``, ``info``, ``state_updates``...): the topic it travels on."""
    if ChannelManager.env_of(channel) is not None:
        rest = channel.split("__", 2)[1]
        return _TOPIC_CHARS.sub("_", rest)
    return "other"


class KafkaBroker(MessageBroker):
    """The broker contract over Kafka at ``bootstrap_servers`` (see the module doc). A server
    that cannot be reached fails within ``connect_timeout`` seconds, naming it."""

    def __init__(self, bootstrap_servers: str | Sequence[str] = "127.0.0.1:9092", group_id: str | None = None,
                 security_protocol: str | None = None, sasl_mechanism: str | None = None, sasl_plain_username: str | None = None,
                 sasl_plain_password: str | None = None, ssl_ca_location: str | None = None, topic_prefix: str = "heron",
                 connect_timeout: float = 5.0, config: Mapping[str, Any] | None = None, **librdkafka_options: Any) -> None:
        if not isinstance(bootstrap_servers, str) and isinstance(bootstrap_servers, Sequence):
            bootstrap_servers = ",".join(bootstrap_servers)  # the FAQ's ['kafka1:9092', 'kafka2:9092']
        if not isinstance(bootstrap_servers, str) or not bootstrap_servers:
            raise ValueError(f"KafkaBroker needs bootstrap_servers 'host:port[,host:port]' or a list of them, got {bootstrap_servers!r}")
        group_id = "heron" if group_id is None else group_id
        security = {"security.protocol": security_protocol, "sasl.mechanism": sasl_mechanism, "sasl.username": sasl_plain_username,
                     "sasl.password": sasl_plain_password, "ssl.ca.location": ssl_ca_location}
        options = {**(config or {}), **{key.replace("_", "."): value for key, value in librdkafka_options.items()}}
        common = {"bootstrap.servers": bootstrap_servers, **{k: v for k, v in security.items() if v is not None}, **options}
        self.bootstrap_servers, self.group_id, self.topic_prefix = bootstrap_servers, group_id, topic_prefix
        self._arguments = dict(bootstrap_servers=bootstrap_servers, group_id=group_id, security_protocol=security_protocol,
                               sasl_mechanism=sasl_mechanism, sasl_plain_username=sasl_plain_username,
                               sasl_plain_password=sasl_plain_password, ssl_ca_location=ssl_ca_location, topic_prefix=topic_prefix,
                               connect_timeout=connect_timeout, config=options)
        self._link = KafkaLink(common, connect_timeout)
        self._readers: dict[tuple[str, str], _Reader] = {}
        self._lock = threading.Lock()  # readers are made once; each reads under its own lock
        self._published: dict[str, set[str]] = {}  # env -> channels this broker published on
        self._subscribers: dict[str, list[Callable[[Message], None]]] = {}
        self.rejected = 0
        self._holder = new_holder()  # what this broker object's leases hold
        self._leases: dict[tuple[str, str | None], float] = {}  # (env id, site) -> last renewal (monotonic s)
        self._logs: dict[str, KeyedLog] = {}
        self._held: LeaseRecords | None = None
        self._marked: MarkRecords | None = None

    def __getstate__(self) -> dict[str, Any]:
        return dict(self._arguments)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def _topic(self, channel: str) -> str:
        return self._link.ensure(f"{self.topic_prefix}.{channel_kind(channel)}")

    def _log(self, name: str) -> KeyedLog:
        log = self._logs.get(name)
        if log is None:
            topic = self._link.ensure(f"{self.topic_prefix}.{name}")
            log = self._logs[name] = KeyedLog({**self._link.common, "logger": LOG}, topic, self.bootstrap_servers,
                                              send=lambda key, value: self._link.send(topic, key, value, f"a record on {topic}"))
        return log

    def _count_rejected(self) -> None:
        self.rejected += 1

    # ------------------------------------------------------------------ leases
    def claim_environment(self, env_id: str, owner: object, site: str | None = None) -> None:
        """Also across processes: a lease in the log ``<topic_prefix>.leases`` (see
        :class:`~heron.messaging.leases.LeaseLog`), renewed while this broker object publishes
        (every ``LEASE_MS / 3``), so a second env with the same id, or a second process serving
        the same site, is refused naming the holder; a holder that finds its lease taken when it
        renews stops with ``ValueError``."""
        super().claim_environment(env_id, owner, site)
        try:
            self._hold_lease(env_id, site, "claim")
        except (ValueError, ConnectionError):
            super().release_environment(env_id, owner, site)
            raise

    def release_environment(self, env_id: str, owner: object, site: str | None = None) -> None:
        super().release_environment(env_id, owner, site)
        if self._leases.pop((env_id, site), None) is not None and not self._link.unreachable:
            with contextlib.suppress(Exception):  # a server that is gone holds no lease
                self._lease_records().release(_lease_key(env_id, site))

    def _lease_records(self) -> LeaseRecords:
        if self._held is None:
            self._held = LeaseRecords(self._log("leases"), self._holder, self._count_rejected)
        return self._held

    def _hold_lease(self, env_id: str, site: str | None, kind: str) -> None:
        held = self._lease_records().hold(_lease_key(env_id, site), kind)
        if held != self._holder:
            self._leases.pop((env_id, site), None)
            raise ValueError(claimed_already(env_id, site, f"{holder_name(held)} on Kafka at {self.bootstrap_servers!r} "
                                                           f"(this process: {holder_name(self._holder)})"))
        self._leases[(env_id, site)] = time.monotonic()

    def _renew_leases(self) -> None:
        for env_id, site in due_for_renewal(self._leases):
            self._hold_lease(env_id, site, "renew")

    # ------------------------------------------------------------------ marks
    def marks(self, env_id: str, reader: str) -> dict[str, int]:
        """In the log ``<topic_prefix>.marks``: its last record for (env, reader) (a
        restarted process, or a copy, reads what the reader acknowledged before)."""
        return self._mark_records().read(_marks_key(env_id, reader))

    def keep_marks(self, env_id: str, reader: str, marks: Mapping[str, int]) -> None:
        if marks:
            self._mark_records().keep(_marks_key(env_id, reader), marks)

    def _mark_records(self) -> MarkRecords:
        if self._marked is None:
            self._marked = MarkRecords(self._log("marks"), self._count_rejected)
        return self._marked

    # ------------------------------------------------------------------ contract
    def create_channel(self, channel: str) -> None:
        self._topic(channel)

    def publish(self, channel: str, message: Message | Mapping[str, Any]) -> None:
        message = message_on(channel, message)
        if self._leases:
            self._renew_leases()
        self._published.setdefault(message.env_id, set()).add(channel)
        self._link.send(self._topic(channel), message.recipient_id.encode(), encode(message), f"a message on {channel!r}",
                        headers=[("channel", channel.encode())])
        for callback in self._subscribers.get(channel, ()):
            callback(message)

    def consume(self, channel: str, recipient_id: str, env_id: str | None = None, clear: bool = True) -> list[Message]:
        env = env_id if env_id is not None else (ChannelManager.env_of(channel) or DEFAULT_ENV)
        reader = self._readers.get((env, recipient_id))
        if reader is None:
            with self._lock:
                reader = self._readers.get((env, recipient_id)) or self._readers.setdefault((env, recipient_id),
                                                                                             _Reader(self, env, recipient_id))
        topic = self._topic(channel)
        with reader.lock:  # a consumer serves one thread at a time
            return reader.take(channel, topic, clear)

    def subscribe(self, channel: str, callback: Callable[[Message], None]) -> None:
        if not callable(callback):
            raise ValueError(f"subscribe expects a callable, got {callback!r}")
        self._subscribers.setdefault(channel, []).append(callback)

    def clear_environment(self, env_id: str) -> None:
        """This process's readers of ``env_id`` skip to the end of every topic and forget what they held."""
        self._published.pop(env_id, None)
        for (env, _), reader in list(self._readers.items()):
            if env == env_id:
                with reader.lock:
                    reader.skip_to_end()

    def get_environment_channels(self, env_id: str) -> list[str]:
        """Channels this broker published on for ``env_id``, or on which its readers hold messages
        not yet taken (what other processes published, Kafka does not tell)."""
        held = {c for (env, _), r in list(self._readers.items()) if env == env_id for c, msgs in r.held.items() if msgs}
        return sorted(held | self._published.get(env_id, set()))

    def close(self) -> None:
        """Commit what was processed, close the readers and flush the producer. On a server that
        is gone it commits nothing and never raises: it returns within about ``connect_timeout``
        seconds (a commit would wait for the group coordinator, a flush for acknowledgements)."""
        from confluent_kafka import KafkaException

        alive = self._link.alive()
        for reader in self._readers.values():
            try:
                reader.close(commit=alive)
            except KafkaException:  # the server went away while closing: nothing more to tell it
                pass
        self._readers.clear()
        for log in self._logs.values():
            log.close()
        self._logs.clear()
        self._link.producer.flush(10.0 if alive else 0.0)


def _lease_key(env_id: str, site: str | None) -> bytes:
    return f"{env_id}\x1f{site or ''}".encode()


def _marks_key(env_id: str, reader: str) -> bytes:
    return f"{env_id}\x1f{reader}".encode()


class _Reader:
    """One (env, recipient)'s consumer: what it has read and holds, per channel.

    It takes each topic's records strictly in offset order: a server may serve an offset while
    an earlier one, written at the same time by another producer, is not readable yet (Tansu
    does); the reader then goes back for the earlier one instead of skipping it. It commits,
    per topic, the first offset it still holds (or its next one when it holds none), so a
    reader that restarts reads again all it had not handed over and processed."""

    def __init__(self, broker: KafkaBroker, env: str, recipient: str) -> None:
        from confluent_kafka import Consumer

        self.broker, self.env, self.recipient, self.lock = broker, env, recipient, threading.Lock()
        self.consumer = Consumer({**broker._link.common, "group.id": f"{broker.group_id}.{env}.{recipient}", "enable.auto.commit": False,
                                  "auto.offset.reset": "earliest", "fetch.wait.max.ms": 10, "logger": LOG})
        self.next: dict[str, int] = {}  # topic -> the offset it takes next
        self.held: dict[str, list[tuple[str, int, Message]]] = {}  # channel -> (topic, offset, message) read, not yet taken
        self.committed: dict[str, int] = {}  # topic -> offset last committed
        self.cleared_ms = 0  # records produced before this (ms since the epoch) were cleared
        kept_by_forked_children(self)

    def kafka_clients(self) -> tuple[Any, ...]:
        return (self.consumer,)

    def _assign(self, topic: str) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        if topic in self.next:
            return
        try:
            committed = self.consumer.committed([TopicPartition(topic, 0)], timeout=10.0)[0].offset
        except KafkaException as error:
            raise self._failure([topic], f"the committed offset of {topic} is not known: {error}") from None
        self.committed[topic] = committed
        self.next[topic] = max(committed, 0)
        self.consumer.incremental_assign([TopicPartition(topic, 0, self.next[topic])])  # the others keep their positions

    def _read(self, topic: str, channel: str) -> None:
        """Everything on ``topic`` up to its end offset now, then what has been fetched beyond it."""
        from confluent_kafka import KafkaException, TopicPartition

        try:
            _, end = self.consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10.0, cached=False)
        except KafkaException as error:
            raise self._failure([topic], f"the end of {topic} is not known: {error}") from None
        if (end < self.committed.get(topic, 0) or end < self.next[topic] - 1) and self.broker._link.lost_data(topic):
            raise self.broker._link.lost(topic)  # else Tansu's end lags: read on past it, below
        deadline = time.monotonic() + 10.0
        while self.next[topic] < end:
            if time.monotonic() > deadline:
                raise ConnectionError(f"Kafka at {self.broker.bootstrap_servers!r}: {topic} did not deliver offsets "
                                      f"{self.next[topic]}..{end - 1} within 10 s")
            self._take_record(self.consumer.poll(0.5))
        wait = 0.0
        while (record := self.consumer.poll(wait)) is not None or (wait == 0.0 and not self.held.get(channel)):
            # beyond the end the server reported (Tansu's end offsets can lag, even go back):
            # what is fetched already, and, when the channel has nothing yet, what a fetch brings
            if record is None:
                wait = _SETTLE
                continue
            self._take_record(record)

    def _take_record(self, record: Any) -> None:
        """Keep ``record`` if it is the next of its topic and for this reader; go back for a gap."""
        from confluent_kafka import TopicPartition

        if record is None or record.error():
            return
        topic, offset = record.topic(), record.offset()
        expected = self.next[topic]
        if offset < expected:  # served again after going back
            return
        if offset > expected:  # an earlier offset is not readable yet: fetch from it again
            self.consumer.seek(TopicPartition(topic, 0, expected))
            return
        self.next[topic] = offset + 1
        recipient = record.key().decode() if record.key() else ""
        if recipient not in (self.recipient, BROADCAST):
            return
        try:
            message = decode(record.value())
            channel = dict(record.headers() or [])["channel"].decode()
        except (FrameError, KeyError, UnicodeDecodeError):
            self.broker.rejected += 1
            return
        if message.env_id == self.env and record.timestamp()[1] >= self.cleared_ms:  # not from before a clear
            self.held.setdefault(channel, []).append((topic, offset, message))

    def _commit(self) -> None:
        """Commit, where it moved, each topic's first offset still held (what was handed over is processed)."""
        from confluent_kafka import TopicPartition

        first = dict(self.next)
        for entries in self.held.values():
            for topic, offset, _ in entries:
                first[topic] = min(first[topic], offset)
        moved = [TopicPartition(t, 0, o) for t, o in first.items() if self.committed.get(t) != o]
        if moved:
            from confluent_kafka import KafkaException

            try:
                self.consumer.commit(offsets=moved, asynchronous=False)
            except KafkaException as error:  # a server back empty refuses it: UNKNOWN_TOPIC_OR_PART
                topics = ", ".join(tp.topic for tp in moved)
                raise self._failure([tp.topic for tp in moved], f"the commit of {topics} was refused: {error}") from None
            self.committed.update((tp.topic, tp.offset) for tp in moved)

    def _failure(self, topics: list[str], what: str) -> ConnectionError:
        """The error for a failed server call on ``topics``: lost data when the server is back
        without one of them, else the server named with ``what`` went wrong."""
        link = self.broker._link
        lost = next((topic for topic in topics if link.lost_data(topic)), None)
        return link.lost(lost) if lost else ConnectionError(f"Kafka at {self.broker.bootstrap_servers!r}: {what}")

    def take(self, channel: str, topic: str, clear: bool) -> list[Message]:
        if clear:  # what the last read handed over has been processed
            self._commit()
        self._assign(topic)
        self._read(topic, channel)
        out = sorted((message for _, _, message in self.held.get(channel, [])), key=lambda m: m.timestamp)
        if clear:
            self.held[channel] = []
        return out

    def skip_to_end(self) -> None:
        """Forget what is held, and drop what was produced before now when it is read (the
        server's end offsets cannot be trusted to skip it: see the module doc)."""
        self.cleared_ms = int(time.time() * 1000)
        self.held.clear()

    def close(self, commit: bool = True) -> None:
        if commit:
            self._commit()
        self.consumer.close()
