"""Distributed mode per transport, side by side: one env step with the sites' messages on the
in-memory broker and on Redis Streams, and the broker's own throughput (one publish and one
consume of a 3-entry action) on each. Redis needs a server (``HERON_REDIS_URL``, or
``redis-server`` installed: see tests/servers.py)."""
import numpy as np
import pytest

from heron.messaging import InMemoryBroker, Message, MessageType
from powergrid.envs import MultiAgentMicrogrids
from tests.servers import fresh_redis_broker, redis_url  # noqa: F401  (the fixture)

TRANSPORTS = ["memory", "redis"]


def broker_of(name, request):
    return InMemoryBroker() if name == "memory" else fresh_redis_broker(request.getfixturevalue("redis_url"))


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.benchmark(group="transports: distributed step, 3 microgrids")
def test_distributed_step(benchmark, transport, request):
    env = MultiAgentMicrogrids({"centralized": False, "message_broker": broker_of(transport, request)})
    env.reset(seed=0)
    actions = {a: np.clip(np.zeros(env.action_space(a).shape), env.action_space(a).low, env.action_space(a).high) for a in env.agents}

    def step():
        if not env.agents:
            env.reset()
        env.step(actions)

    benchmark.pedantic(step, rounds=200, warmup_rounds=5)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.benchmark(group="transports: one message published and consumed")
def test_message_round_trip(benchmark, transport, request):
    broker = broker_of(transport, request)
    channel = "env_b__action__environment_to_MG1"
    message = Message("b", "environment", "MG1", 0.0, MessageType.ACTION, {"setpoint": np.arange(3.0)})

    def round_trip():
        broker.publish(channel, message)
        assert len(broker.consume(channel, "MG1", "b")) == 1

    benchmark.pedantic(round_trip, rounds=2000, warmup_rounds=20)
