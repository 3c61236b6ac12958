"""What the Kafka readers and lease logs raise when the server fails a call, without a server."""
from __future__ import annotations

import pytest

from heron.messaging.base import BrokerLost

confluent_kafka = pytest.importorskip("confluent_kafka", reason="confluent-kafka comes with the kafka extra")
from heron.messaging.kafka import _Reader  # noqa: E402


class _Link:
    def __init__(self, lost: bool) -> None:
        self.lost_topics = lost

    def lost_data(self, topic: str) -> bool:
        return self.lost_topics

    def lost(self, topic: str) -> BrokerLost:
        return BrokerLost(f"Kafka at 'k:1' restarted without its data: {topic} is gone")


class _Broker:
    bootstrap_servers = "k:1"

    def __init__(self, lost: bool) -> None:
        self._link = _Link(lost)


class _RefusingConsumer:
    def commit(self, offsets, asynchronous):  # noqa: ANN001 - the consumer's own signature
        raise confluent_kafka.KafkaException(confluent_kafka.KafkaError(confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART,
                                                                        "Commit failed: Broker: Unknown topic or partition"))


def _reader(lost: bool) -> _Reader:
    reader = object.__new__(_Reader)
    reader.broker, reader.consumer = _Broker(lost), _RefusingConsumer()
    reader.next, reader.held, reader.committed = {"t.action": 5}, {}, {"t.action": 2}
    return reader


def test_a_commit_refused_because_the_server_lost_the_topic_is_named_as_lost_data():
    """Found in CI: a site racing a Kafka restart without data had its commit refused with
    UNKNOWN_TOPIC_OR_PART, and died with a traceback instead of naming the lost server."""
    reader = _reader(lost=True)
    with pytest.raises(BrokerLost, match="restarted without its data: t.action"):
        reader.take("c", "t.action", clear=True)
    assert reader.committed == {"t.action": 2}  # nothing recorded as committed


def test_a_commit_refused_for_another_reason_is_a_connection_error_naming_the_server():
    reader = _reader(lost=False)
    with pytest.raises(ConnectionError, match="Kafka at 'k:1': the commit of t.action was refused") as raised:
        reader.take("c", "t.action", clear=True)
    assert not isinstance(raised.value, BrokerLost)


def test_a_reader_that_cannot_learn_its_committed_offset_names_the_lost_server():
    class _Unanswering:
        def committed(self, partitions, timeout):  # noqa: ANN001 - the consumer's own signature
            raise confluent_kafka.KafkaException(confluent_kafka.KafkaError(confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART, "gone"))

    reader = _reader(lost=True)
    reader.consumer, reader.next = _Unanswering(), {}
    with pytest.raises(BrokerLost, match="restarted without its data: t.state"):
        reader.take("c", "t.state", clear=False)



@pytest.mark.parametrize("code, raised, match", [
    (confluent_kafka.KafkaError.UNKNOWN_TOPIC_OR_PART, BrokerLost, "Kafka at 'k:1' restarted without its data: t.leases is gone"),
    (confluent_kafka.KafkaError._TIMED_OUT, ConnectionError, "Kafka at 'k:1': the end of t.leases is not known"),
])
def test_a_lease_log_that_cannot_learn_its_end_names_the_server_and_whether_it_lost_its_data(code, raised, match):
    """The lease and marks logs read their end offsets as a reader does, and fail alike."""
    from heron.messaging.kafka_log import KeyedLog

    class _Failing:
        def get_watermark_offsets(self, partition, timeout, cached):  # noqa: ANN001 - the consumer's own signature
            raise confluent_kafka.KafkaException(confluent_kafka.KafkaError(code, "failed"))

    log = object.__new__(KeyedLog)
    log.topic, log.servers, log.timeout, log.next, log._consumer = "t.leases", "k:1", 1.0, 3, _Failing()
    with pytest.raises(ConnectionError, match=match) as error:
        log.read()
    assert type(error.value) is raised
