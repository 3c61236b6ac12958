"""Core throughput: broker messages per second, setpoint decomposition cost."""
import numpy as np
import pytest

from heron.agents import CoordinatorAgent, FieldAgent
from heron.core import Action
from heron.messaging import InMemoryBroker, Message, MessageType
from heron.protocols import SetpointProtocol

N_MESSAGES = 10_000


def publish_then_consume(broker, channel, messages):
    for m in messages:
        broker.publish(channel, m)
    return broker.consume(channel, "r", "e")


@pytest.mark.parametrize("kind", ["dict", "Message"])
def test_broker_publish_consume(benchmark, kind):
    """Target: >= 1,000,000 messages/s (publish + consume) on one core."""
    broker = InMemoryBroker()
    if kind == "dict":
        messages = [{"setpoint": float(i)} for i in range(N_MESSAGES)]
    else:
        messages = [Message("e", "a", "r", 0.0, MessageType.ACTION, {"setpoint": float(i)}) for i in range(N_MESSAGES)]
    out = benchmark(publish_then_consume, broker, "env_e__bench", messages)
    assert len(out) == N_MESSAGES and broker.pending_count() == 0
    benchmark.extra_info["messages_per_s_median"] = N_MESSAGES / benchmark.stats.stats.median


def test_setpoint_decomposition_10_subordinates(benchmark):
    """Target: <= 5 us per call."""
    subs = {f"d{i}": Action(dim_c=2) for i in range(10)}
    protocol = SetpointProtocol()
    protocol.bind(subs)
    action = np.random.default_rng(0).uniform(-1, 1, 20)
    messages, actions = benchmark(protocol.coordinate, None, subs, action)
    assert len(actions) == 10
    benchmark.extra_info["us_per_call_median"] = benchmark.stats.stats.median * 1e6


def test_coordinator_act_10_subordinates(benchmark):
    """Whole coordinator step: validate, decompose, each device validates and executes."""
    devices = [FieldAgent(f"d{i}", action=Action(dim_c=2)) for i in range(10)]
    coordinator = CoordinatorAgent("mg", subordinates=devices)
    action = np.random.default_rng(0).uniform(-1, 1, 20)
    benchmark(coordinator.act, None, action)
    np.testing.assert_array_equal(devices[9].action.c, action[18:])
