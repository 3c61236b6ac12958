"""Attacks on distributed mode by someone on the same broker, on the in-memory and Redis
transports: each is rejected and counted, and the rewards are those of an env nobody attacked."""
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.messaging import ChannelManager, InMemoryBroker, Message
from heron.messaging.base import BROADCAST
from heron.messaging.security import Keyring, SecureBroker, _mac, sealed
from powergrid.deploy import identities
from powergrid.envs import MultiAgentMicrogrids
from tests.servers import fresh_kafka_broker, fresh_redis_broker

ENV = "sec"


def inner_broker(name, request):
    """(the env's transport, a second connection to it for the attacker)."""
    if name == "memory":
        broker = InMemoryBroker()
        return broker, broker
    if name == "kafka":
        broker = fresh_kafka_broker(request.getfixturevalue("kafka_servers"))
        return broker, reconnect(broker)
    url = request.getfixturevalue("redis_url")
    from heron.messaging.redis import RedisBroker

    return fresh_redis_broker(url), RedisBroker(url)


def reconnect(broker):
    """Another connection to the same server, topics and groups: what a restarted process opens."""
    import pickle

    return pickle.loads(pickle.dumps(broker))


class Attack:
    """A secured env, its twin nobody attacks, the attacker's raw connection to the same
    transport and the keyring. ``inject`` puts the attacker's messages right after the env's own
    on a channel, so that, were they taken, they would be the latest."""

    def __init__(self, name, request):
        self.clean = MultiAgentMicrogrids({"centralized": False, "train": False})
        self.ring = Keyring.generate(identities(self.clean))
        self.inner, self.raw = inner_broker(name, request)
        self.env = MultiAgentMicrogrids({"centralized": False, "train": False, "env_id": ENV,
                                         "message_broker": SecureBroker(self.inner, self.ring)})
        for e in (self.env, self.clean):
            e.reset(seed=3)

    def inject(self, channel, *forged):
        sent = []

        def follow(_):
            if not sent:
                sent.append(True)
                for message in forged:
                    self.raw.publish(channel, message)

        self.inner.subscribe(channel, follow)

    def step_and_compare(self):
        """One step of both envs: the attacked one must give the clean one's observations and rewards."""
        env, clean = self.env, self.clean
        actions = {a: env.action_space(a).low + 0.3 * (env.action_space(a).high - env.action_space(a).low) for a in env.agents}
        out, clean_out = env.step(actions), clean.step(actions)
        for a in clean_out[1]:
            assert out[1][a] == pytest.approx(clean_out[1][a], abs=1e-9)
            np.testing.assert_allclose(out[0][a], clean_out[0][a], atol=1e-6)


@pytest.fixture(params=["memory", "redis"])
def attack(request):
    return Attack(request.param, request)


def test_a_forged_state_update_is_rejected(attack):
    t = float(attack.env.core.t + 1)
    forged = Message(ENV, "solar_1", "environment", t, "state_update", {"P_MW": 5.0, "Q_MVAR": 0.0})  # its limit is 0.2 MW
    channel = ChannelManager.state_update_channel(ENV)
    attack.inject(channel, forged, sealed(forged, channel, attack.ring.key("MG3"), time.time_ns()))  # unsigned; signed by another site
    attack.step_and_compare()
    assert attack.env.message_broker.rejections == {"unsigned": 1, "bad signature": 1}


def test_a_forged_evaluation_is_rejected(attack):
    t = float(attack.env.core.t + 1)
    forged = Message(ENV, "MG1", "environment", t, "info", {"action": None, "obs": np.zeros(1), "cost": -1e6, "safety": 0.0,
                                                              "p_import": 0.0, "marginal_cost": 0.0})
    attack.inject(ChannelManager.info_channel("MG1", "environment", ENV), forged)
    attack.step_and_compare()
    assert attack.env.message_broker.rejections == {"unsigned": 1}


@pytest.mark.parametrize("setpoint", [np.full(3, 0.05), np.full(3, np.nan)])
def test_a_setpoint_from_another_site_is_rejected(attack, setpoint):
    t, channel, ring = float(attack.env.core.t + 1), ChannelManager.action_channel("environment", "MG1", ENV), attack.ring
    mg3 = SecureBroker(attack.raw, Keyring({"MG3": ring.key("MG3")}), identities=["MG3"])
    with pytest.raises(PermissionError, match="'MG3' may not publish on 'env_sec__action__environment_to_MG1'"):
        mg3.publish(channel, Message(ENV, "MG3", "MG1", t, "action", {"setpoint": setpoint}))
    # past our code: as itself (the channel is not its to write), then as the env (it has not MG1's key)
    attack.inject(channel, sealed(Message(ENV, "MG3", "MG1", t, "action", {"setpoint": setpoint}), channel, ring.key("MG3"), time.time_ns()),
                  sealed(Message(ENV, "environment", "MG1", t, "action", {"setpoint": setpoint}), channel, ring.key("MG3"), time.time_ns()))
    attack.step_and_compare()
    assert attack.env.message_broker.rejections == {"not allowed on this channel": 1, "bad signature": 1}


def test_a_site_cannot_read_another_sites_queue(attack):
    mg3 = SecureBroker(attack.raw, Keyring({"MG3": attack.ring.key("MG3")}), identities=["MG3"])
    with pytest.raises(PermissionError, match="may read for \\['MG3'\\], not for 'MG1'"):
        mg3.consume(ChannelManager.action_channel("environment", "MG1", ENV), "MG1", ENV)
    with pytest.raises(PermissionError, match="'MG3' may not read 'env_sec__action__environment_to_MG1'"):
        mg3.consume(ChannelManager.action_channel("environment", "MG1", ENV), "MG3", ENV)


@pytest.mark.parametrize("name", ["memory", "redis", "kafka"])
def test_a_replayed_or_copied_message_is_rejected(name, request):
    inner, raw = inner_broker(name, request)
    ring = Keyring.generate(["environment", "MG1"])
    env, site = SecureBroker(inner, ring, identities=["environment"]), SecureBroker(raw, ring, identities=["MG1"])
    channel = ChannelManager.action_channel("environment", "MG1", ENV)
    key = ring.key("MG1")
    fresh = sealed(Message(ENV, "environment", "MG1", 1.0, "action", {"setpoint": [0.1]}), channel, key, time.time_ns())
    raw.publish(channel, fresh)
    assert len(site.consume(channel, "MG1", ENV)) == 1
    raw.publish(channel, fresh)  # the same envelope again
    old = sealed(Message(ENV, "environment", "MG1", 1.0, "action", {"setpoint": [0.1]}), channel, key, time.time_ns() - 10 ** 12)
    raw.publish(channel, old)  # signed 1000 s ago: outside the window
    assert site.consume(channel, "MG1", ENV) == []
    assert site.rejections == {"duplicate": 1, "replayed": 1}  # a message taken already is a duplicate
    env.publish(channel, Message(ENV, "environment", "MG1", 2.0, "action", {"setpoint": [0.2]}))
    assert [m.payload["setpoint"] for m in site.consume(channel, "MG1", ENV)] == [[0.2]]


def test_keys_are_never_shown_and_a_key_file_is_private(tmp_path):
    ring = Keyring.generate(["environment", "MG1"])
    path = tmp_path / "mg1.json"
    ring.save(path, ["MG1"])
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    loaded = Keyring.from_file(path)
    assert loaded.key("MG1") == ring.key("MG1") and loaded.identities() == {"MG1"}
    assert ring.key("MG1").hex() not in repr(ring) + repr(SecureBroker(InMemoryBroker(), ring))
    with pytest.raises(ValueError, match="no key for identities \\['MG2'\\]"):
        SecureBroker(InMemoryBroker(), ring, identities=["MG2"])


def test_without_signatures_a_nan_setpoint_is_refused_not_executed():
    """The unsigned broker still refuses a setpoint a device cannot execute: the site holds its
    last command and says so (``stale``) instead of crashing the step."""
    env = MultiAgentMicrogrids({"centralized": False, "train": False, "env_id": ENV})
    env.reset(seed=0)
    t = float(env.core.t + 1)
    env.message_broker.publish(ChannelManager.action_channel("environment", "MG1", ENV),
                               Message(ENV, "environment", "MG1", t, "action", {"setpoint": np.full(3, np.nan)}))
    actions = {a: env.action_space(a).low for a in env.agents}
    obs, rewards, _, _, infos = env.step(actions)
    assert all(np.isfinite(o).all() for o in obs.values()) and np.isfinite(list(rewards.values())).all()
    assert env.agent_dict["MG1"].refused_commands == 1


@pytest.mark.parametrize("name", ["memory", "redis", "kafka"])
def test_replay_protection_survives_a_restarted_receiver_and_a_copy(name, request):
    """Found by a red team: a restarted process (or a copy of a SecureBroker) accepted again,
    within the 300 s window, a message it had already taken. What a reader acknowledged is
    now kept where the transport keeps its positions; what it took but never acknowledged (it
    crashed first) is still delivered again: nothing is lost."""
    import copy
    import pickle

    inner, raw = inner_broker(name, request)
    ring = Keyring.generate(["environment", "MG1"])
    channel = ChannelManager.action_channel("environment", "MG1", ENV)
    key = ring.key("MG1")
    first = sealed(Message(ENV, "environment", "MG1", 1.0, "action", {"setpoint": [0.1]}), channel, key, time.time_ns())
    raw.publish(channel, first)
    site = SecureBroker(inner, ring, identities=["MG1"])
    assert len(site.consume(channel, "MG1", ENV)) == 1
    assert site.consume(channel, "MG1", ENV) == []  # came back for more: the first is acknowledged
    copied = copy.deepcopy(site) if name == "memory" else pickle.loads(pickle.dumps(site))
    restarted = SecureBroker(inner if name == "memory" else reconnect(inner), ring, identities=["MG1"])
    for receiver in (copied, restarted):
        (receiver.inner if name == "memory" else raw).publish(channel, first)  # the captured envelope again
        assert receiver.consume(channel, "MG1", ENV) == [] and set(receiver.rejections) == {"replayed"}
    second = sealed(Message(ENV, "environment", "MG1", 2.0, "action", {"setpoint": [0.2]}), channel, key, time.time_ns())
    raw.publish(channel, second)
    taker = SecureBroker(inner if name == "memory" else reconnect(inner), ring, identities=["MG1"])
    assert len(taker.consume(channel, "MG1", ENV)) == 1  # taken, then the process dies before processing it
    if name != "memory":
        again = SecureBroker(reconnect(inner), ring, identities=["MG1"])
        assert [m.payload["setpoint"] for m in again.consume(channel, "MG1", ENV)] == [[0.2]]  # given again, not refused


def test_a_redis_acl_site_can_use_a_database_other_than_0(redis_url):
    """redis-py selects the URL's database when it connects: a site's ACL user may (ACL rules
    hold on every database alike, so this lets it reach nothing more)."""
    from urllib.parse import urlsplit

    from heron.messaging.access import redis_acl_rules
    from heron.messaging.redis import RedisBroker

    database = urlsplit(redis_url)._replace(path=f"/{int(urlsplit(redis_url).path.strip('/') or 0) + 8}").geturl()
    admin = fresh_redis_broker(database)
    env_id, user = "acl-db", f"mg3_{time.time_ns()}"
    admin._client.execute_command("ACL", "SETUSER", user, *redis_acl_rules(env_id, "MG3", password="pw3"))
    try:
        site = RedisBroker(database.replace("redis://", f"redis://{user}:pw3@"), max_pending=None)
        own = ChannelManager.action_channel("environment", "MG3", env_id)
        admin.publish(own, Message(env_id, "environment", "MG3", 1.0, "action", {"setpoint": [0.1]}))
        assert [m.payload for m in site.consume(own, "MG3", env_id)] == [{"setpoint": [0.1]}]
        site.close()
    finally:
        admin._client.execute_command("ACL", "DELUSER", user)
        admin.close()


def test_redis_acl_users_confine_a_site_to_its_own_streams(redis_url):
    """The channel policy mapped onto Redis ACL users: the server itself stops a site that
    bypasses our code from reading another site's commands or the env's state updates."""
    import redis

    from heron.messaging.access import redis_acl_rules
    from heron.messaging.redis import RedisBroker, stream_key

    admin = fresh_redis_broker(redis_url)
    env_id, user = "acl", f"mg3_{time.time_ns()}"
    admin._client.execute_command("ACL", "SETUSER", user, *redis_acl_rules(env_id, "MG3", ["solar_3", "ess_3"], password="pw3"))
    try:
        site_url = redis_url.replace("redis://", f"redis://{user}:pw3@")
        site = RedisBroker(site_url, max_pending=None)
        own = ChannelManager.action_channel("environment", "MG3", env_id)
        other = ChannelManager.action_channel("environment", "MG1", env_id)
        for channel, recipient in ((own, "MG3"), (other, "MG1")):
            admin.publish(channel, Message(env_id, "environment", recipient, 1.0, "action", {"setpoint": [0.1]}))
        assert [m.payload for m in site.consume(own, "MG3", env_id)] == [{"setpoint": [0.1]}]
        with pytest.raises(redis.exceptions.NoPermissionError):
            site.consume(other, "MG1", env_id)
        report = ChannelManager.info_channel("MG3", "environment", env_id)
        site.publish(report, Message(env_id, "MG3", "environment", 1.0, "info", {"cost": 1.0}))  # may write its report
        site.publish(ChannelManager.state_update_channel(env_id), Message(env_id, "ess_3", "environment", 1.0, "state_update", {"P_MW": 0.0}))
        with pytest.raises(redis.exceptions.NoPermissionError):
            site.consume(report, "environment", env_id)  # but not read it, nor the others' updates
        with pytest.raises(redis.exceptions.NoPermissionError):
            site.publish(ChannelManager.info_channel("MG1", "environment", env_id), Message(env_id, "MG1", "environment", 1.0, "info", {}))
        updates = stream_key(env_id, ChannelManager.state_update_channel(env_id), "environment")  # every site's devices write here
        for command in (("XTRIM", updates, "MAXLEN", "0"), ("XDEL", updates, "0-1"), ("DEL", updates)):
            with pytest.raises(redis.exceptions.NoPermissionError):
                site._client.execute_command(*command)
        assert [m.payload for m in admin.consume(report, "environment", env_id)] == [{"cost": 1.0}]
        assert site._epoch and site._epoch == admin._epoch  # it reads the token of the server's data, cannot change it
        with pytest.raises(redis.exceptions.NoPermissionError):
            site._client.set("heron-epoch", "forged")

        class Owner:
            pass

        site.keep_marks(env_id, "ess_3", {"c\x1fenvironment": 7})  # its replay marks, not another's
        assert site.marks(env_id, "ess_3") == {"c\x1fenvironment": 7}
        with pytest.raises(redis.exceptions.NoPermissionError):
            site.marks(env_id, "MG1")
        site.claim_environment(env_id, Owner(), site="MG3")  # its own identity in the env, not another's
        with pytest.raises(redis.exceptions.NoPermissionError):
            site.claim_environment(env_id, Owner(), site="MG1")
    finally:
        admin._client.execute_command("ACL", "DELUSER", user)


def test_redis_acl_users_read_others_broadcasts_but_cannot_trim_delete_or_append_to_them(redis_url):
    """Found from the rules themselves: a site's user could XTRIM, XDEL or XADD the broadcast
    streams every other site reads (one command empties another agent's announcements)."""
    import redis

    from heron.messaging.access import redis_acl_rules
    from heron.messaging.redis import RedisBroker, stream_key

    admin = fresh_redis_broker(redis_url)
    env_id, user = "aclb", f"mg3_{time.time_ns()}"
    admin._client.execute_command("ACL", "SETUSER", user, *redis_acl_rules(env_id, "MG3", ["ess_3"], password="pw3"))
    try:
        site = RedisBroker(redis_url.replace("redis://", f"redis://{user}:pw3@"), max_pending=None)
        theirs, own = ChannelManager.broadcast_channel("MG1", env_id), ChannelManager.broadcast_channel("MG3", env_id)
        assert site.consume(theirs, "MG3", env_id) == []  # a reader is known from its first read
        for t in (1.0, 2.0):
            admin.publish(theirs, Message(env_id, "MG1", BROADCAST, t, "broadcast", {"price": t}))
        assert [m.payload for m in site.receive(theirs, "MG3", env_id, 1.0)] == [{"price": 1.0}, {"price": 2.0}]
        assert site.consume(theirs, "MG3", env_id) == []  # acknowledged
        key = stream_key(env_id, theirs, BROADCAST)
        for command in (("XTRIM", key, "MAXLEN", "0"), ("XDEL", key, "0-1"), ("XADD", key, "*", "m", b"forged"),
                        ("DEL", key)):
            with pytest.raises(redis.exceptions.NoPermissionError):
                site._client.execute_command(*command)
        with pytest.raises(redis.exceptions.ResponseError, match="can't access at least one of the keys"):
            site.publish(theirs, Message(env_id, "MG1", BROADCAST, 3.0, "broadcast", {"price": -1.0}))  # the script's trim is refused
        site.publish(own, Message(env_id, "MG3", BROADCAST, 3.0, "broadcast", {"offer": 1.0}))  # its own announcements
        assert [m.payload for m in admin.consume(own, "MG1", env_id)] == [{"offer": 1.0}]
    finally:
        admin._client.execute_command("ACL", "DELUSER", user)


def test_redis_over_tls_carries_the_messages_and_refuses_what_is_not_tls(redis_tls):
    from heron.messaging.redis import RedisBroker

    url, ca = redis_tls
    broker = RedisBroker(f"{url}?ssl_ca_certs={ca}")
    channel = ChannelManager.action_channel("environment", "MG1", "tls")
    broker.publish(channel, Message("tls", "environment", "MG1", 0.0, "action", {"setpoint": [0.1]}))
    assert [m.payload for m in broker.consume(channel, "MG1", "tls")] == [{"setpoint": [0.1]}]
    plain = url.replace("rediss://", "redis://")
    with pytest.raises(ConnectionError, match="cannot be reached"):
        RedisBroker(plain, socket_timeout=2.0)  # the server speaks only TLS
    with pytest.raises(ConnectionError, match="cannot be reached"):
        RedisBroker(url)  # a certificate this client has no reason to trust


MALFORMED = [({"frame": b"x", "seq": 1, "mac": -1}, "malformed signature"),
             ({"frame": b"x", "seq": 1, "mac": 3e9}, "malformed signature"),
             ({"frame": b"x", "seq": 1, "mac": 2 ** 40}, "malformed signature"),
             ({"frame": b"x", "seq": 1, "mac": b"short"}, "malformed signature"),
             ({"frame": b"x", "seq": 1, "mac": "0" * 32}, "malformed signature"),
             ({"frame": b"x", "seq": -1, "mac": bytes(32)}, "malformed sequence"),
             ({"frame": b"x", "seq": 2 ** 70, "mac": bytes(32)}, "malformed sequence"),
             ({"frame": b"x", "seq": True, "mac": bytes(32)}, "malformed sequence"),
             ({"frame": b"x", "seq": 1.5, "mac": bytes(32)}, "malformed sequence"),
             ({"frame": "text", "seq": 1, "mac": bytes(32)}, "malformed frame"),
             ({"frame": b"x", "seq": 1}, "unsigned"),
             ({"anything": 1}, "unsigned")]


@pytest.mark.parametrize("name", ["memory", "redis", "kafka"])
def test_a_malformed_envelope_is_counted_by_reason_and_costs_nothing(name, request):
    """Found by a red team: ``mac=-1`` killed a signed site, ``mac=3e9`` took 12 s, ``2**40`` ran
    out of memory. Each is now refused, by reason, before any work."""
    inner, raw = inner_broker(name, request)
    ring = Keyring.generate(["environment", "MG1"])
    site = SecureBroker(raw, ring, identities=["MG1"])
    channel = ChannelManager.action_channel("environment", "MG1", ENV)
    from heron.messaging.codec import encode

    sent = []
    for payload, reason in MALFORMED:
        message = Message(ENV, "environment", "MG1", 1.0, "action", payload)
        try:
            encode(message)  # over Redis, what msgpack can carry (2**70 it cannot)
        except ValueError:
            continue
        sent.append(reason)
        inner.publish(channel, message)
    start = time.perf_counter()
    assert site.consume(channel, "MG1", ENV) == []
    assert time.perf_counter() - start < 5.0
    expected = {}
    for reason in sent:
        expected[reason] = expected.get(reason, 0) + 1
    assert site.rejections == expected and site.rejected == len(sent) >= len(MALFORMED) - 1
    good = sealed(Message(ENV, "environment", "MG1", 2.0, "action", {"setpoint": [0.2]}), channel, ring.key("MG1"), time.time_ns())
    inner.publish(channel, good)  # the site still works
    assert [m.payload["setpoint"] for m in site.consume(channel, "MG1", ENV)] == [[0.2]]


def test_the_fault_models_duplicates_are_not_counted_as_attacks():
    from heron.messaging.faults import Faults, FaultyBroker

    ring = Keyring.generate(["environment", "MG1"])
    broker = SecureBroker(FaultyBroker(InMemoryBroker(), Faults(duplicate=1.0), seed=0), ring)
    channel = ChannelManager.action_channel("environment", "MG1", ENV)
    for k in range(5):
        broker.publish(channel, Message(ENV, "environment", "MG1", float(k), "action", {"setpoint": [k]}))
    taken = broker.consume(channel, "MG1", ENV)
    assert [m.payload["setpoint"] for m in taken] == [[k] for k in range(5)]
    assert broker.rejections == {"duplicate": 5} and "replayed" not in broker.rejections


def test_key_files_are_private_always_and_bad_keys_are_named(tmp_path, monkeypatch):
    import os

    ring = Keyring.generate(["environment", "MG1"])
    path = tmp_path / "keys.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    ring.save(path)  # over an existing, readable file
    assert oct(path.stat().st_mode & 0o777) == "0o600" and Keyring.from_file(path).identities() == {"environment", "MG1"}
    os.chmod(path, 0o666)
    with pytest.raises(PermissionError, match="chmod 600"):
        Keyring.from_file(path)
    monkeypatch.setenv("HERON_KEY_MG7", "not hex")
    with pytest.raises(ValueError, match="HERON_KEY_MG7"):
        Keyring.from_environment()
    monkeypatch.setenv("HERON_KEY_MG7", "abcd")
    with pytest.raises(ValueError, match="HERON_KEY_MG7 must hold a key of at least 16 bytes"):
        Keyring.from_environment()


def test_the_codec_refuses_to_write_what_it_would_refuse_to_read():
    from heron.messaging.codec import MAX_FRAME_BYTES, decode, encode

    big = Message(ENV, "MG1", "environment", 1.0, "info", {"x": np.zeros(MAX_FRAME_BYTES // 8 + 1)})
    with pytest.raises(ValueError, match="a frame holds at most"):
        encode(big)
    fits = Message(ENV, "MG1", "environment", 1.0, "info", {"x": np.zeros(1000)})
    np.testing.assert_array_equal(decode(encode(fits)).payload["x"], np.zeros(1000))


ENVELOPE_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 63, 2 ** 64 - 1), st.floats(allow_nan=True),
                           st.binary(max_size=40), st.text(max_size=8), st.lists(st.integers(0, 255), max_size=4),
                           st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@pytest.mark.parametrize("name", ["memory", "redis"])
def test_fuzzed_envelopes_and_frames_are_refused_by_reason_and_never_stop_a_reader(name, request):
    """Whatever lands in a stream a signed reader reads (an envelope of any shape, or a correctly
    signed envelope around any bytes), it is counted in ``rejected`` by reason, never delivered,
    never raised; the next genuine message still arrives."""
    inner, raw = inner_broker(name, request)
    ring = Keyring.generate(["environment", "MG1"])
    env, site = SecureBroker(inner, ring, identities=["environment"]), SecureBroker(raw, ring, identities=["MG1"])
    channel = ChannelManager.action_channel("environment", "MG1", ENV)
    reasons = {"unsigned", "malformed frame", "malformed sequence", "malformed signature", "bad signature", "replayed",
               "duplicate", "unknown signer", "not allowed on this channel"}
    sent = [0]

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(fields=st.dictionaries(st.sampled_from(["frame", "seq", "mac", "extra"]), ENVELOPE_VALUE, max_size=4),
           frame=st.binary(max_size=64), sign=st.booleans())
    def attack(fields, frame, sign):
        payload = fields
        if sign:  # a key holder's envelope around bytes that need not be a frame
            seq = time.time_ns()
            payload = sealed(Message(ENV, "environment", "MG1", 0.0, "action", {}), channel, ring.key("MG1"), seq).payload
            payload = {**payload, "frame": frame, "mac": _mac(ring.key("MG1"), channel, seq, frame)}
        try:
            raw.publish(channel, Message(ENV, "environment", "MG1", 0.0, "action", payload))
        except ValueError:  # not even encodable by the transport: nothing was sent
            return
        sent[0] += 1
        assert site.consume(channel, "MG1", ENV) == []
        assert site.rejected == sent[0] and set(site.rejections) <= reasons

    attack()
    env.publish(channel, Message(ENV, "environment", "MG1", 1.0, "action", {"setpoint": [0.5]}))
    assert [m.payload["setpoint"] for m in site.consume(channel, "MG1", ENV)] == [[0.5]]
