"""A process that forks while it holds Kafka clients (AsyncVectorEnv, multiprocessing) must not
crash in the child: librdkafka's threads stay in the parent, and destroying an inherited client
in the child (its garbage collection does) is a segmentation fault."""
import gc
import os

from heron.messaging.base import Message, MessageType
from tests.servers import fresh_kafka_broker


def child_status_after_collecting_garbage() -> int:
    pid = os.fork()
    if pid == 0:  # the child collects what the parent left unreachable, then leaves at once
        gc.collect()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status


def test_a_forked_child_survives_collecting_kafka_clients_the_parent_dropped(kafka_servers):
    broker = fresh_kafka_broker(kafka_servers)
    broker.publish("env_e__info__a_to_b", Message("e", "a", "b", 0.0, MessageType.INFO, {"x": 1}))
    assert len(broker.consume("env_e__info__a_to_b", "b", "e")) == 1  # a reader (a consumer) exists too
    holder = {"broker": broker}
    holder["self"] = holder  # a cycle: only the garbage collector frees it
    del broker, holder
    gc.disable()  # keep it uncollected until the fork, as a busy parent would
    try:
        status = child_status_after_collecting_garbage()
    finally:
        gc.enable()
        gc.collect()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"the child died: wait status {status}"
