"""Real transports (Redis Streams, Kafka): the wire format, bad frames, unreachable servers, restarts, and the env over them."""
import struct
import time

import msgpack
import numpy as np
import pytest

from heron.messaging import Message, MessageType
from heron.messaging.codec import FrameError, decode, encode
from tests.servers import fresh_kafka_broker, fresh_redis_broker


def test_frames_round_trip_arrays_bit_for_bit_and_refuse_what_is_not_a_frame():
    payload = {"setpoint": np.array([[0.1, -2.5e-300], [np.pi, 7.0]]), "n": np.int64(3), "tag": "x", "flags": [True, None]}
    back = decode(encode(Message("e1", "environment", "MG1", 2.5, MessageType.ACTION, payload)))
    assert (back.env_id, back.sender_id, back.recipient_id, back.timestamp, back.message_type) == ("e1", "environment", "MG1", 2.5,
                                                                                                   MessageType.ACTION)
    assert back.payload["setpoint"].tobytes() == payload["setpoint"].tobytes() and back.payload["setpoint"].shape == (2, 2)
    assert back.payload["n"] == 3 and back.payload["flags"] == [True, None]
    with pytest.raises(FrameError, match="not a message frame"):
        decode(b"\xc1garbage")
    with pytest.raises(FrameError, match="not a HERON message frame"):
        decode(msgpack.packb({"kind": "someone else's"}))
    with pytest.raises(FrameError, match="frame version 1; this codec reads version 2"):
        decode(msgpack.packb([b"HRN", 1, "e1", "a", "b", 0.0, "info", {}]))
    with pytest.raises(FrameError, match="not a HERON message frame"):
        decode(msgpack.packb([b"HRN", 2, "e1", "a", "b", 0.0, "info", None, {}]))
    with pytest.raises(FrameError, match="malformed message fields"):
        decode(msgpack.packb([b"HRN", 2, "e1", "", "b", 0.0, "info", {}]))
    with pytest.raises(ValueError, match="cannot be encoded: a message payload cannot hold a object"):
        encode(Message("e1", "a", "b", 0.0, "info", {"x": object()}))



def test_arrays_of_every_kind_round_trip_as_independent_writable_arrays():
    """Arrays travel grouped by dtype and shape in one table; each still arrives as its own array."""
    arrays = [np.zeros((0,)), np.zeros((3, 0)), np.array(5.0), np.array(True), np.array([1, 2], dtype=">i4"), np.array(["ab", "c"]),
              np.arange(12.0).reshape(3, 4)[:, ::2], np.asfortranarray(np.arange(6.0).reshape(2, 3)), np.array([[1 + 2j]]),
              np.array(6.0), np.array([1.5]), np.array([2.5])]
    back = decode(encode(Message("e1", "a", "b", 0.0, "info", {"arrays": arrays}))).payload["arrays"]
    for sent, got in zip(arrays, back, strict=True):
        assert type(got) is np.ndarray and got.dtype == sent.dtype and got.shape == sent.shape and np.array_equal(got, sent)
    back[10][0] = -1.0  # rows of one group are not each other's views
    assert back[11][0] == 2.5 and back[2] == 5.0 and back[9] == 6.0
    with pytest.raises(ValueError, match="cannot be sent; send arrays of numbers"):
        encode(Message("e1", "a", "b", 0.0, "info", {"x": np.zeros(2, dtype=[("p", "<f8"), ("q", "<i2")])}))


def _table(groups, data: bytes = b"") -> bytes:
    """An array table as the codec writes it: msgpack's ext 32 (code 2) holding the header's length, the header, the rows."""
    header = msgpack.packb(groups)
    return _ext32(struct.pack(">I", len(header)) + header + data)


def _ext32(data: bytes, code: int = 2) -> bytes:
    return struct.pack(">BIb", 0xC9, len(data), code) + data


def _frame(table: bytes, payload) -> bytes:
    return table + msgpack.packb([b"HRN", 2, "e1", "a", "b", 0.0, "info", payload])


@pytest.mark.parametrize("frame, reason", [
    (_frame(_table([["<f8", [1], 2]], bytes(8)), msgpack.ExtType(3, b"\x00")), "needs 16 bytes, the table has 8"),
    (_frame(_table([["<f8", [1], 1]], bytes(9)), msgpack.ExtType(3, b"\x00")), "1 bytes beyond its arrays"),
    (_frame(_table([["O", [1], 1]], bytes(8)), None), "malformed array table"),
    (_frame(_table([["<f8", [-1], 1]]), None), "malformed array table"),
    (_frame(_table([["<f8", ["x"], 1]]), None), "malformed array table"),
    (_frame(_table([["<f8", [1], 0]]), None), "malformed array table"),
    (_frame(_table("no list"), None), "malformed array table"),
    (_frame(_ext32(b"\xff\xff\xff\xff"), None), "its header of 4294967295 bytes is longer than the table"),
    (_frame(_ext32(b"\x00"), None), "malformed array table"),
    (_frame(_ext32(b"")[:-2] + b"\xff\xff", None), "not a message frame"),
    (_frame(_table([["<f8", [1], 1]], bytes(8)), [msgpack.ExtType(3, b"\x00")] * 2), "names no array left"),
    (_frame(_table([]), msgpack.ExtType(3, b"\x07")), "names no array left"),
    (_frame(b"", msgpack.ExtType(3, b"\x00")), "names no array left"),
    (_frame(_table([]), msgpack.ExtType(2, b"")), "unexpected msgpack extension 2"),
    (_frame(_table([]), msgpack.ExtType(9, b"")), "unexpected msgpack extension 9"),
])
def test_a_hostile_array_table_is_refused_naming_what_is_wrong(frame, reason):
    with pytest.raises(FrameError, match=reason):
        decode(frame)


def test_a_foreign_or_malformed_entry_in_a_stream_is_counted_and_never_delivered(redis_url):
    broker = fresh_redis_broker(redis_url)
    channel = "env_e1__action__environment_to_MG1"
    key = broker._key("e1", channel, "MG1")
    broker._client.xadd(key, {"m": b"not a frame"})
    broker._client.xadd(key, {"other": b"field"})
    broker._client.xadd(key, {"m": encode(Message("e2", "environment", "MG1", 0.0, "action", {"x": 1}))})  # another env's
    broker.publish(channel, Message("e1", "environment", "MG1", 1.0, "action", {"x": 2}))
    assert [m.payload for m in broker.consume(channel, "MG1")] == [{"x": 2}]
    assert broker.rejected == 3


def test_an_unreachable_server_fails_within_seconds_naming_it():
    from heron.messaging.redis import RedisBroker

    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"Redis at 'redis://127.0.0.1:1/0' cannot be reached"):
        RedisBroker("redis://127.0.0.1:1/0")
    assert time.monotonic() - start < 5.0
    with pytest.raises(ValueError, match="needs a redis://"):
        RedisBroker("http://127.0.0.1:6379")


def test_an_unreachable_kafka_server_fails_within_seconds_naming_it():
    from heron.messaging.kafka import KafkaBroker

    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"Kafka at '127.0.0.1:1' cannot be reached"):
        KafkaBroker("127.0.0.1:1", connect_timeout=2.0)
    assert time.monotonic() - start < 6.0
    with pytest.raises(ConnectionError, match=r"Kafka at '127.0.0.1:1,127.0.0.1:2' cannot be reached"):
        KafkaBroker(["127.0.0.1:1", "127.0.0.1:2"], connect_timeout=1.0)  # the FAQ's list of servers
    with pytest.raises(ValueError, match="bootstrap_servers 'host:port"):
        KafkaBroker(9092)


def test_kafka_settings_pass_through_by_name_or_keyword(kafka_servers):
    broker = fresh_kafka_broker(kafka_servers, config={"fetch.wait.max.ms": 5}, session_timeout_ms=6000)
    assert broker._link.common["fetch.wait.max.ms"] == 5 and broker._link.common["session.timeout.ms"] == 6000
    channel = "env_e1__action__environment_to_MG1"
    broker.publish(channel, Message("e1", "environment", "MG1", 0.0, "action", {"x": 1}))
    assert [m.payload for m in broker.consume(channel, "MG1")] == [{"x": 1}]
    from heron.messaging.kafka import KafkaBroker

    assert KafkaBroker(kafka_servers, topic_prefix=broker.topic_prefix).group_id == "heron"  # group_id=None: the default group


def test_a_kafka_reader_that_restarts_gets_again_what_it_had_not_finished(kafka_servers):
    from heron.messaging.kafka import KafkaBroker

    first = fresh_kafka_broker(kafka_servers)
    channel, names = "env_e1__action__environment_to_MG1", dict(topic_prefix=first.topic_prefix, group_id=first.group_id)
    for n in range(3):
        first.publish(channel, Message("e1", "environment", "MG1", float(n), "action", {"n": n}))
    assert [m.payload["n"] for m in first.consume(channel, "MG1")] == [0, 1, 2]  # then it dies before coming back
    second = KafkaBroker(kafka_servers, **names)
    assert [m.payload["n"] for m in second.consume(channel, "MG1")] == [0, 1, 2]  # nothing lost
    assert second.consume(channel, "MG1") == []
    second.close()  # commits what it processed
    assert KafkaBroker(kafka_servers, **names).consume(channel, "MG1") == []  # nothing applied twice


def test_a_kafka_reader_misses_nothing_that_writers_publish_at_once(kafka_servers):
    """Concurrent writers to one partition: a server may serve an offset before an earlier one
    is readable (Tansu does); the reader must go back for it, not skip it."""
    import threading

    from heron.messaging.kafka import KafkaBroker

    reader = fresh_kafka_broker(kafka_servers)
    names, channel, count = dict(topic_prefix=reader.topic_prefix, group_id=reader.group_id), "env_e1__state_updates", 150
    reader.create_channel(channel)

    def write(sender):
        writer = KafkaBroker(kafka_servers, **names)
        for n in range(count):
            writer.publish(channel, Message("e1", sender, "environment", float(n), "state_update", {"n": n}))
        writer.close()

    writers = [threading.Thread(target=write, args=(f"site{k}",)) for k in range(3)]
    for w in writers:
        w.start()
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 3 * count and time.monotonic() < deadline:
        got += reader.receive(channel, "environment", "e1", 1.0)
    for w in writers:
        w.join()
    got += reader.receive(channel, "environment", "e1", 0.5)
    for k in range(3):
        assert [m.payload["n"] for m in got if m.sender_id == f"site{k}"] == list(range(count))


def test_a_reader_that_restarts_gets_again_what_it_never_acknowledged(redis_url):
    channel = "env_e1__action__environment_to_MG1"
    first = fresh_redis_broker(redis_url)
    for n in range(3):
        first.publish(channel, Message("e1", "environment", "MG1", float(n), "action", {"n": n}))
    assert [m.payload["n"] for m in first.consume(channel, "MG1")] == [0, 1, 2]  # then it dies before coming back
    from heron.messaging.redis import RedisBroker

    second = RedisBroker(redis_url)
    assert [m.payload["n"] for m in second.consume(channel, "MG1")] == [0, 1, 2]  # redelivered: nothing lost
    assert second.consume(channel, "MG1") == [] and second.pending_count("e1") == 0
    second.close()
    assert second_reads_nothing(redis_url, channel)


def second_reads_nothing(url, channel):
    from heron.messaging.redis import RedisBroker

    third = RedisBroker(url)
    return third.consume(channel, "MG1") == []


@pytest.mark.parametrize("name", ["redis", "kafka"])
def test_distributed_mode_over_a_real_broker_equals_centralized(name, request):
    from powergrid.envs import MultiAgentMicrogrids

    broker = (fresh_redis_broker(request.getfixturevalue("redis_url")) if name == "redis"
              else fresh_kafka_broker(request.getfixturevalue("kafka_servers")))
    runs = []
    for config in ({"centralized": True}, {"centralized": False, "message_broker": broker}):
        env = MultiAgentMicrogrids({"train": False, **config})
        obs, _ = env.reset(seed=5)
        rng = np.random.default_rng(11)
        trace = [np.concatenate(list(obs.values()))]
        for _ in range(48):
            if not env.agents:
                env.reset(seed=6)
            actions = {a: env.action_space(a).low + rng.random(env.action_space(a).shape) * (env.action_space(a).high - env.action_space(a).low)
                       for a in env.agents}
            obs, rewards, *_ = env.step({a: v.astype(np.float64) for a, v in actions.items()})
            trace += [np.concatenate(list(obs.values())), np.array(list(rewards.values()))]
        runs.append(trace)
        env.close()
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    assert broker.rejected == 0 and (name == "kafka" or broker.pending_count() == 0)


def test_a_wait_longer_than_the_connections_read_timeout_is_served(redis_url):
    """A site waits minutes for its env (30 site processes start slowly); it once failed with the
    socket's 30 s read timeout, since one blocking read asked Redis to wait the whole time."""
    broker = fresh_redis_broker(redis_url, socket_timeout=0.5)
    start = time.monotonic()
    assert broker.receive("env_e1__site_control__MG1", "MG1", "e1", timeout=1.5) == []
    assert 1.4 < time.monotonic() - start < 5.0


def connections(name, request):
    """(a first broker on a fresh namespace of ``name``'s server, a function opening another
    connection to the same namespace, as a second process would, and how refusals name the server)."""
    import pickle

    if name == "redis":
        from heron.messaging.redis import RedisBroker

        url = request.getfixturevalue("redis_url")
        return fresh_redis_broker(url), lambda: RedisBroker(url), "on redis://"
    first = fresh_kafka_broker(request.getfixturevalue("kafka_servers"))
    return first, lambda: pickle.loads(pickle.dumps(first)), "on Kafka at"


def plant_lease(broker, env_id, site, holder: str) -> None:
    """A lease held by ``holder``, as another process would have left it on the server."""
    if hasattr(broker, "_client"):
        from heron.messaging.redis import lease_key

        broker._client.set(lease_key(env_id, site), holder, px=30_000)
    else:
        from heron.messaging.kafka import _lease_key

        broker._log("leases").append(_lease_key(env_id, site), msgpack.packb(["claim", holder.encode(), int(time.time() * 1000), None]))


@pytest.mark.parametrize("name", ["redis", "kafka"])
def test_an_env_id_is_held_on_the_server_so_a_copy_or_a_second_process_cannot_share_it(name, request):
    """Found by a red team: a deepcopy of an env on Redis kept its env_id and streams, and
    stepping both moved the original's rewards. The id is now leased on the server."""
    import copy
    import uuid

    from powergrid.envs import MultiAgentMicrogrids

    broker, connect, where = connections(name, request)
    env_id = f"lease-{uuid.uuid4().hex[:8]}"
    first = MultiAgentMicrogrids({"centralized": False, "env_id": env_id, "message_broker": broker})
    with pytest.raises(ValueError, match=fr"env_id '{env_id}' is already in use by pid \d+ on .* {where}"):
        MultiAgentMicrogrids({"centralized": False, "env_id": env_id, "message_broker": connect()})
    first.reset(seed=0)
    with pytest.raises(ValueError, match="a copy of an env on a networked broker cannot share its id"):
        copy.deepcopy(first)
    first.step({a: first.action_space(a).low for a in first.agents})  # the original runs on
    first.close()
    second = MultiAgentMicrogrids({"centralized": False, "env_id": env_id, "message_broker": connect()})
    second.reset(seed=0)
    second.close()


@pytest.mark.parametrize("name", ["redis", "kafka"])
def test_a_site_identity_is_held_on_the_server_and_a_second_claimant_is_named(name, request):
    """Found by a red team: two processes both serving MG1 of one env split its messages
    (rewards off by up to 4.5, no error). Each serving process now leases its identity."""
    import os
    import uuid

    class Owner:  # what holds a claim (a site process's Site), weakly referenced
        pass

    serving, connect, where = connections(name, request)
    another = connect()  # two processes' connections
    env_id, first, second = f"site-{uuid.uuid4().hex[:8]}", Owner(), Owner()
    serving.claim_environment(env_id, first, site="MG1")
    with pytest.raises(ValueError, match=fr"site 'MG1' of env '{env_id}' is already served by pid {os.getpid()} on .* {where}.*"
                                         fr"\(this process: pid {os.getpid()} .*\); run each site once"):
        another.claim_environment(env_id, second, site="MG1")
    another.claim_environment(env_id, second, site="MG2")  # another site of the env, and the env itself, are free
    another.claim_environment(env_id, second)
    serving.release_environment(env_id, first, site="MG1")
    another.claim_environment(env_id, second, site="MG1")  # given back: the next claimant takes it
    serving._leases[(env_id, "MG2")] = 0.0  # a holder whose lease was taken stops when it renews
    with pytest.raises(ValueError, match="site 'MG2'"):
        serving.publish(f"env_{env_id}__info__a_to_b", Message(env_id, "a", "b", 0.0, "info", {}))


@pytest.mark.parametrize("name", ["redis", "kafka"])
def test_a_lease_left_by_a_process_that_died_on_this_host_is_taken_at_once(name, request):
    import socket
    import subprocess
    import uuid

    class Owner:
        pass

    gone = subprocess.Popen(["true"])
    gone.wait()
    broker, connect, _ = connections(name, request)
    env_id, owner = f"dead-{uuid.uuid4().hex[:8]}", Owner()
    plant_lease(connect(), env_id, "MG1", f"x pid {gone.pid} on {socket.gethostname()}")
    broker.claim_environment(env_id, owner, site="MG1")  # the crashed holder's lease is taken, not waited for
    plant_lease(connect(), env_id, "MG2", f"x pid {gone.pid} on another-host")
    with pytest.raises(ValueError, match=f"site 'MG2' of env '{env_id}' is already served by pid {gone.pid} on another-host"):
        broker.claim_environment(env_id, owner, site="MG2")  # another host's process cannot be checked: its lease runs out
    with pytest.raises(ValueError, match="site 'MG1'"):  # and every other process agrees who holds MG1 now
        connect().claim_environment(env_id, Owner(), site="MG1")


def test_a_kafka_end_offset_reported_low_is_not_taken_for_a_server_that_lost_its_data(kafka_servers):
    """Found by CI: Tansu reports a topic's end late, even lower than what a reader has read,
    while producers write; a reader took that for a restart without data. A loss is now a
    topic gone or made again (another id); a low end alone is read past as before."""
    from heron.messaging.base import BrokerLost

    broker = fresh_kafka_broker(kafka_servers)
    channel = "env_e1__action__environment_to_MG1"
    for k in range(3):
        broker.publish(channel, Message("e1", "environment", "MG1", float(k), "action", {"k": k}))
    assert [m.payload["k"] for m in broker.consume(channel, "MG1", "e1")] == [0, 1, 2]
    reader = broker._readers[("e1", "MG1")]

    class LaggingEnd:  # the consumer, but the end it reports is 0
        def __init__(self, consumer):
            self.consumer = consumer

        def get_watermark_offsets(self, *args, **kwargs):
            return 0, 0

        def __getattr__(self, name):
            return getattr(self.consumer, name)

    reader.consumer = LaggingEnd(reader.consumer)
    broker.publish(channel, Message("e1", "environment", "MG1", 3.0, "action", {"k": 3}))
    assert [m.payload["k"] for m in broker.consume(channel, "MG1", "e1")] == [3]
    topic = broker._topic(channel)
    broker._link.topic_ids[topic] = "an id the server never gave it"  # as if the topic had been made again
    with pytest.raises(BrokerLost, match=f"restarted without its data: {topic} is gone or was made again"):
        broker.consume(channel, "MG1", "e1")
