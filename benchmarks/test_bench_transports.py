"""Distributed mode per transport, side by side, for 3 and 30 microgrids: one env step with the
sites in the env's process on the in-memory broker, Redis Streams and Kafka, and with each site a
process of its own on Redis and on Kafka (``remote_sites``); and each broker's own speed: one
message published and consumed (a round trip), and 100 published then read in one go
(throughput). Redis and Kafka need servers (``HERON_REDIS_URL``,
``HERON_KAFKA_SERVERS``, or the servers installed: see tests/servers.py)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from heron.messaging import InMemoryBroker, Message, MessageType
from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import many
from tests.servers import fresh_kafka_broker, fresh_redis_broker, kafka_servers, redis_url  # noqa: F401  (fixtures)

MODES = ["memory", "redis", "redis, site processes", "kafka", "kafka, site processes"]


def broker_of(name, request):
    """(a fresh broker of transport ``name``, the URL a site process reaches it by)."""
    if name == "memory":
        return InMemoryBroker(), None
    if name == "redis":
        url = request.getfixturevalue("redis_url")
        return fresh_redis_broker(url), url
    broker = fresh_kafka_broker(request.getfixturevalue("kafka_servers"))
    return broker, f"kafka://{broker.bootstrap_servers}?topic_prefix={broker.topic_prefix}&group_id={broker.group_id}"


@pytest.mark.parametrize("n", [3, 30])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.benchmark(group="transports: distributed step")
def test_distributed_step(benchmark, mode, n, request, tmp_path):
    setup = dict(many(n), train=False)
    config = {**setup, "centralized": False, "env_id": f"bench{n}"}
    sites = []
    config["message_broker"], url = broker_of(mode.split(",")[0], request)
    if mode.endswith("site processes"):
        config.update(remote_sites=True, site_timeout=300.0)
        path = tmp_path / "config.json"
        path.write_text(json.dumps(setup))
        sites = [subprocess.Popen([sys.executable, "-m", "powergrid", "site", f"MG{k + 1}", "--broker", url, "--env-id", config["env_id"],
                                   "--config", str(path)], stdout=subprocess.DEVNULL) for k in range(n)]
    try:
        env = MultiAgentMicrogrids(config)
        env.reset(seed=0)
        actions = {a: np.clip(np.zeros(env.action_space(a).shape), env.action_space(a).low, env.action_space(a).high) for a in env.agents}

        def step():
            if not env.agents:
                env.reset()
            env.step(actions)

        benchmark.pedantic(step, rounds=30 if n > 3 else 100, warmup_rounds=3)
        env.close()
    finally:
        for p in sites:
            p.kill()


@pytest.mark.parametrize("transport", ["memory", "redis", "kafka"])
@pytest.mark.benchmark(group="transports: one message published and consumed")
def test_message_round_trip(benchmark, transport, request):
    broker, _ = broker_of(transport, request)
    channel = "env_b__action__environment_to_MG1"
    message = Message("b", "environment", "MG1", 0.0, MessageType.ACTION, {"setpoint": np.arange(3.0)})

    def round_trip():
        broker.publish(channel, message)
        assert len(broker.consume(channel, "MG1", "b")) == 1

    benchmark.pedantic(round_trip, rounds=2000 if transport != "kafka" else 200, warmup_rounds=20)


@pytest.mark.parametrize("transport", ["memory", "redis", "kafka"])
@pytest.mark.benchmark(group="transports: 100 messages published, then consumed in one read")
def test_throughput(benchmark, transport, request):
    """Messages per second = 100 / the median (each Kafka publish waits for its acknowledgement)."""
    broker, _ = broker_of(transport, request)
    channel = "env_b__state_updates"
    messages = [Message("b", f"device{k}", "environment", 0.0, MessageType.STATE_UPDATE, {"P_MW": 0.1, "Q_MVAR": 0.0})
                for k in range(100)]

    def batch():
        for message in messages:
            broker.publish(channel, message)
        got = []
        while len(got) < len(messages):
            got += broker.consume(channel, "environment", "b")

    benchmark.pedantic(batch, rounds=50 if transport != "kafka" else 5, warmup_rounds=1)


CODEC_PAYLOADS = {"100k arrays of one float": lambda: {"a": [np.array([float(k)]) for k in range(100_000)]},
                  "3 observations (20 floats, 4 flags)": lambda: {f"MG{k}": {"obs": np.random.rand(20), "mask": np.ones(4, bool)}
                                                                 for k in range(3)},
                  "one setpoint": lambda: {"setpoint": np.array([0.2, 0.1])},
                  "one 8 MB array": lambda: {"x": np.random.rand(1_000_000)}}


@pytest.mark.parametrize("payload", list(CODEC_PAYLOADS))
@pytest.mark.parametrize("step", ["encode", "decode"])
@pytest.mark.benchmark(group="transports: the wire format (codec) alone")
def test_codec(benchmark, step, payload):
    """The frame every networked transport sends. Arrays travel in one table per frame, grouped by
    dtype and shape, so many small arrays cost one numpy call per group (not a parse each)."""
    from heron.messaging.codec import decode, encode

    message = Message("b", "MG1", "environment", 0.0, MessageType.INFO, CODEC_PAYLOADS[payload]())
    frame = encode(message)
    many = payload.startswith("100k")
    if step == "encode":
        benchmark.pedantic(encode, args=(message,), rounds=5 if many else 500, warmup_rounds=1)
    else:
        benchmark.pedantic(decode, args=(frame,), rounds=5 if many else 500, warmup_rounds=1)
