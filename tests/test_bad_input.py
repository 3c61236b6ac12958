"""Bad input is named: the key or argument, the value, and what is allowed; never another
exception type from deep inside (a TypeError from numpy, an OverflowError from float)."""
import math

import numpy as np
import pytest

from heron.messaging import ChannelManager, Message
from heron.scheduling import ScheduleConfig
from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import load_setup


@pytest.mark.parametrize("timestamp", [10 ** 400, True, "7", math.nan])
def test_message_timestamps(timestamp):
    with pytest.raises(ValueError, match="timestamp must be a finite number"):
        Message("e", "a", "b", timestamp, "info", {})


def test_channel_env_of_needs_a_name():
    with pytest.raises(ValueError, match="channel must be a string"):
        ChannelManager.env_of(None)


@pytest.mark.parametrize("changes, match", [
    ({"seed": -1}, "seed must be None or a non-negative integer"),
    ({"seed": "x"}, "seed must be None or a non-negative integer"),
    ({"seed": math.inf}, "seed must be None or a non-negative integer"),
    ({"seed": 2.5}, "seed must be None or a non-negative integer"),
    ({"tick_interval": "1"}, "tick_interval must be a positive number of seconds"),
    ({"tick_interval": 10 ** 400}, "tick_interval must be a positive number of seconds"),
])
def test_schedule_config_values(changes, match):
    with pytest.raises(ValueError, match=match):
        ScheduleConfig(**{"tick_interval": 1.0, **changes})


def device_config(**gen):
    cfg = load_setup("ieee34_ieee13_simbench")["microgrid_configs"][:1]
    cfg[0]["devices"][0].update(gen)
    return cfg


@pytest.mark.parametrize("config, match", [
    ({"microgrid_configs": device_config(p_mx=5.0)}, r"unknown key\(s\) \['p_mx'\]"),
    ({"microgrid_configs": device_config(p_max=True)}, "p_max must be a finite number, got True"),
    ({"dso_config": {"vm_pu": 0}}, r"'vm_pu' must be a number in \(0.5, 1.5\)"),
    ({"dso_config": {"vm_pu": float("nan")}}, "'vm_pu' must be a number"),
    ({"dso_config": {"vm_pu": -1}}, "'vm_pu' must be a number"),
    ({"dso_config": {"vm_pu": None}}, "'vm_pu' must be a number"),
    ({"dso_config": {"load_scale": -1}}, "'load_scale' must be a finite number >= 0"),
    ({"dso_config": {"load_scale": float("nan")}}, "'load_scale' must be a finite number >= 0"),
    ({"dso_config": {"regulator_taps": 0}}, "'regulator_taps' must be a list of whole numbers"),
    ({"dso_config": {"network": {}}}, "'network' must be one of"),
    ({"dataset_path": math.inf}, "'dataset_path' must be a path"),
    # found by the fuzz suite (tests/test_fuzz.py): each was a TypeError, OverflowError or
    # ZeroDivisionError from deep inside, or failed only at reset
    ({"microgrid_configs": device_config(cost=5.0)}, r"cost must be three numbers \[a, b, c\]"),
    ({"microgrid_configs": device_config(p_max=10 ** 400)}, "p_max must be a finite number"),
    ({"dso_config": {"vm_pu": 10 ** 400}}, "'vm_pu' must be a number"),
    ({"dso_config": {"price_area": []}}, "'price_area' must be text"),
    ({"dso_config": {"network": np.array([1.0, 2.0])}}, "'network' must be one of"),
    ({"microgrid_configs": [{**load_setup("ieee34_ieee13")["microgrid_configs"][0], "renew_area": []}]}, "area must be the name"),
    ({"microgrid_configs": [{**load_setup("ieee34_ieee13")["microgrid_configs"][0], "base_power": 0}]}, "base_power .* > 0"),
    ({"microgrid_configs": [{**load_setup("ieee34_ieee13")["microgrid_configs"][0], "load_scale": math.nan}]}, "load_scale"),
    ({"penalty": 10 ** 400}, "'penalty' must be a finite number"),
    ({"max_episode_steps": 10 ** 6}, "'max_episode_steps' is 1000000"),
    ({"message_broker": np.array([1.0, 2.0])}, "'message_broker' must be"),
    ({"power_flow_backend": []}, "'power_flow_backend' must be a backend name"),
])
def test_env_config_values(config, match):
    with pytest.raises(ValueError, match=match):
        MultiAgentMicrogrids(config)


def test_complex_actions_are_refused():
    env = MultiAgentMicrogrids()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="agent 'MG1': action must hold real numbers"):
        env.step({"MG1": np.array([0.1 + 1j, 0, 0]), "MG2": np.zeros(3), "MG3": np.zeros(3)})


def test_an_integer_beyond_a_float_is_refused_by_name():
    """Found by the fuzz suite: an OverflowError from numpy."""
    env = MultiAgentMicrogrids()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="agent 'MG2': action must hold numbers, got 10"):
        env.step({"MG1": np.zeros(3), "MG2": 10 ** 400, "MG3": np.zeros(3)})


@pytest.mark.parametrize("centralized", [True, False])
def test_a_microgrid_with_nothing_to_command_runs(centralized):
    """Found by the fuzz suite: a microgrid without devices (an empty action) made the clip flags
    fail with an IndexError."""
    microgrids = load_setup("ieee34_ieee13")["microgrid_configs"][:2]
    microgrids[1]["devices"] = []
    env = MultiAgentMicrogrids({"microgrid_configs": microgrids, "centralized": centralized})
    env.reset(seed=0)
    assert env.action_space("MG2").shape == (0,)
    _, rewards, _, _, infos = env.step({"MG1": np.array([5.0, 0.0, 0.0]), "MG2": np.zeros(0)})
    assert infos["MG1"]["action_clipped"] and not infos["MG2"]["action_clipped"] and math.isfinite(rewards["MG2"])
