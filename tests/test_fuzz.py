"""Fuzzing what users and peers hand us: configs, actions, messages and schedule configs.

Whatever goes in, the outcome is a valid run or a ``ValueError``/``TypeError`` whose message
names what was wrong; never another exception type from deep inside, and a refused step leaves
the env able to go on exactly as before.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from heron.messaging import InMemoryBroker, Message
from heron.scheduling import ScheduleConfig
from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import load_setup

def fuzz(examples: int) -> settings:
    """``examples`` runs, no shrinking (an env build takes half a second; the failing example is
    printed as drawn)."""
    return settings(max_examples=examples, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CLEAR = (ValueError, TypeError)

#: Values that are wrong for most keys, and some that are right for many.
ODD = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5), st.integers(-10, 10), st.integers(10 ** 20, 10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True), st.just([]), st.just({}), st.just([1, "a"]), st.just({"x": 1}),
    st.just(np.float32(0.5)), st.just(np.array([1.0, 2.0])), st.just(1 + 2j),
)

SETUP = load_setup("ieee34_ieee13")
DEVICE_KEYS = sorted({k for mg in SETUP["microgrid_configs"] for d in mg["devices"] for k in d} | {"p_mx"})
MICROGRID_KEYS = ["name", "network", "connection_bus", "load_area", "renew_area", "base_power", "load_scale", "devices", "extra"]
DSO_KEYS = ["network", "name", "load_scale", "load_area", "price_area", "vm_pu", "regulator_taps", "extra"]
TOP_KEYS = ["centralized", "max_episode_steps", "train", "share_reward", "penalty", "convergence_failure_reward",
            "convergence_failure_safety", "env_id", "setup", "dataset_path", "sell_price_ratio", "power_flow_backend",
            "env_update_interval", "description", "message_broker", "typo_key"]


def _mentions(error: Exception, *names: str) -> bool:
    text = str(error)
    return any(name in text for name in names)


@st.composite
def configs(draw):
    """A valid config with one value replaced by an odd one, at the top, in the operator's
    config, in a microgrid or in a device; and which key it was."""
    where = draw(st.sampled_from(["top", "dso", "microgrid", "device"]))
    value = draw(ODD)
    config = {"microgrid_configs": copy.deepcopy(SETUP["microgrid_configs"][:2]), "dso_config": {}}
    if where == "top":
        key = draw(st.sampled_from(TOP_KEYS))
        config[key] = value
    elif where == "dso":
        key = draw(st.sampled_from(DSO_KEYS))
        config["dso_config"][key] = value
    elif where == "microgrid":
        key = draw(st.sampled_from(MICROGRID_KEYS))
        config["microgrid_configs"][draw(st.integers(0, 1))][key] = value
    else:
        key = draw(st.sampled_from(DEVICE_KEYS))
        mg = config["microgrid_configs"][draw(st.integers(0, 1))]
        mg["devices"][draw(st.integers(0, len(mg["devices"]) - 1))][key] = value
    return config, key, value


def test_a_generator_source_that_is_not_text_is_refused_by_name():
    """Found by the config fuzz (CI, 2026-12-07): ``renewable_type: array([1., 2.])`` raised
    numpy's "truth value of an array is ambiguous" from inside the generator fleet."""
    config = copy.deepcopy(load_setup("ieee34_ieee13"))
    device = next(d for d in config["microgrid_configs"][0]["devices"] if "renewable_type" in d)
    device["renewable_type"] = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=f"device {device['name']!r}.*source must be 'solar', 'wind' or absent"):
        MultiAgentMicrogrids(config)


@fuzz(40)
@given(configs())
@pytest.mark.slow
def test_configs_give_a_valid_env_or_a_clear_error(case):
    config, key, value = case
    try:
        env = MultiAgentMicrogrids(config)
    except CLEAR as error:
        # the key is named (a device's key may be named with its device), or the value is shown
        assert _mentions(error, key, repr(value), "device", "microgrid", "dataset", "setup"), (key, value, error)
        return
    except FileNotFoundError as error:  # a dataset_path or setup that names no file
        assert key in ("dataset_path", "setup") and str(value) in str(error)
        return
    try:
        obs, _ = env.reset(seed=0)
        out = env.step({a: env.action_space(a).sample() for a in env.agents})
        assert all(np.isfinite(r) for r in out[1].values())
        assert all(env.observation_space(a).contains(o) for a, o in obs.items())
    finally:
        env.close()


@pytest.fixture(scope="module", params=[True, False], ids=["centralized", "distributed"])
def running_env(request):
    env = MultiAgentMicrogrids({"centralized": request.param, "train": False, "max_episode_steps": 8_000})
    env.reset(seed=0)
    return env


ACTION = st.one_of(
    ODD,
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=5),
    st.lists(st.floats(-2, 2), min_size=3, max_size=3).map(np.array),
    st.lists(st.integers(-3, 3), min_size=3, max_size=3).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.floats(-2, 2), min_size=3, max_size=3).map(lambda v: np.array(v, dtype=np.float32).reshape(1, 3)),
    st.fixed_dictionaries({"c": st.lists(st.floats(-1, 1), max_size=3), "d": st.lists(st.integers(0, 3), max_size=2)}),
)


@fuzz(150)
@given(st.dictionaries(st.sampled_from(["MG1", "MG2", "MG3", "MG4", 0]), ACTION, max_size=4))
def test_actions_give_a_step_or_a_clear_error_and_a_refused_step_changes_nothing(running_env, actions):
    env = running_env
    if not env.agents:
        env.reset()
    t, soc = int(env.core.t), env.storage.soc.copy()
    try:
        obs, rewards, *_ = env.step(actions)
    except CLEAR as error:
        assert _mentions(error, "action", "agent"), error
        assert env.core.t == t and np.array_equal(env.storage.soc, soc)
        return
    assert all(math.isfinite(r) for r in rewards.values())
    assert all(env.observation_space(a).contains(o) for a, o in obs.items())


MESSAGE_FIELD = st.one_of(ODD, st.text(min_size=1, max_size=8), st.floats(0, 1e6), st.sampled_from(["action", "info", "ACTION"]))


@fuzz(200)
@given(st.dictionaries(st.sampled_from(["env_id", "sender_id", "recipient_id", "timestamp", "message_type", "payload", "extra"]),
                       MESSAGE_FIELD, max_size=7))
def test_messages_are_built_or_refused_by_name(fields):
    broker = InMemoryBroker()
    try:
        message = Message.from_dict(fields)
    except CLEAR as error:
        assert _mentions(error, "message", *fields), error
        return
    broker.publish("fuzz", message)  # a valid message is delivered as it was sent
    got = broker.consume("fuzz", message.recipient_id if message.recipient_id != "*" else "someone", message.env_id)
    assert got == [message]


@fuzz(40)
@given(sender=MESSAGE_FIELD, kind=st.sampled_from(["info", "action", "state_update"]),
       payload=st.one_of(st.just({}), st.dictionaries(st.sampled_from(["obs", "cost", "safety", "action", "P_MW", "setpoint"]),
                                                      ODD, max_size=4)))
def test_a_stray_message_on_an_env_channel_is_refused_or_ignored_and_the_env_goes_on(sender, kind, payload):
    """A peer publishing junk on the env's channels: the step runs or raises a clear error, and
    a refused step is undone (the next step runs)."""
    env = _distributed_env()
    if not env.agents:
        env.reset()
    channel = {"info": env.exchange._reports[1], "action": env.exchange._commands[0],
               "state_update": env.exchange._state_updates}[kind]
    try:
        env.message_broker.publish(channel, Message(env.env_id, sender, "environment" if kind != "action" else "MG1", 1.0,
                                                    kind if kind != "state_update" else "info", payload))
    except CLEAR:
        return
    t = int(env.core.t)
    zero = {a: np.zeros(3) for a in env.agents}
    try:
        env.step(zero)
    except CLEAR as error:
        assert str(error)
        assert env.core.t == t and env.message_broker.pending_count(env.env_id) == 0
        env.step(zero)  # undone: the env goes on


_ENVS: dict[str, MultiAgentMicrogrids] = {}


def _distributed_env() -> MultiAgentMicrogrids:
    if "distributed" not in _ENVS:
        _ENVS["distributed"] = env = MultiAgentMicrogrids({"centralized": False, "max_episode_steps": 8_000})
        env.reset(seed=0)
    return _ENVS["distributed"]


SCHEDULE_VALUE = st.one_of(ODD, st.floats(0, 100), st.sampled_from(["uniform", "gaussian", "none", "bogus"]))


@fuzz(200)
@given(st.dictionaries(st.sampled_from(["tick_interval", "obs_delay", "act_delay", "msg_delay", "jitter_type", "jitter_ratio",
                                        "min_delay", "seed"]), SCHEDULE_VALUE, max_size=4))
def test_schedule_configs_are_valid_or_refused_by_name(changes):
    try:
        config = ScheduleConfig.with_jitter(**changes)
    except CLEAR as error:
        assert _mentions(error, *changes), error
        return
    rng = config.rng()
    for base in (config.tick_interval, config.obs_delay, config.msg_delay):
        value = config.jittered(base, rng)
        assert math.isfinite(value) and value >= config.min_delay
    assert config.jittered(config.tick_interval, rng, config.interval_floor) > 0
