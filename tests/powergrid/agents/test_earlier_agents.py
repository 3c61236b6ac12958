"""Agents made the earlier HERON/PowerGrid's way (its examples 01 and 08): from configs, on their own."""
import pickle

import numpy as np
import pandapower.networks as pn
import pytest

from heron.agents.coordinator_agent import CoordinatorAgent
from heron.agents.field_agent import FieldAgent
from heron.messaging.channels import ChannelManager
from heron.messaging.in_memory_broker import InMemoryBroker
from heron.messaging.base import Message, MessageType
from powergrid.agents.device_agent import DeviceAgent
from powergrid.agents.generator import Generator
from powergrid.agents.power_grid_agent import GridAgent, PowerGridAgent
from powergrid.agents.storage import ESS
from powergrid.envs import MultiAgentMicrogrids
from powergrid.networks.ieee13 import IEEE13Bus

GENERATOR = {"bus": "Bus 633", "p_max_MW": 2.0, "p_min_MW": 0.5, "q_max_MVAr": 1.0, "q_min_MVAr": -1.0, "s_rated_MVA": 2.5,
             "cost_curve_coefs": [0.02, 10.0, 0.0]}
STORAGE = {"bus": "Bus 634", "e_capacity_MWh": 5.0, "soc_max": 0.9, "soc_min": 0.1, "p_max_MW": 1.0, "p_min_MW": -1.0,
           "init_soc": 0.5, "ch_eff": 0.95, "dsc_eff": 0.95}


def test_the_hierarchy_as_the_earlier_classes_had_it():
    assert issubclass(DeviceAgent, FieldAgent) and issubclass(Generator, DeviceAgent) and issubclass(ESS, DeviceAgent)
    assert issubclass(GridAgent, CoordinatorAgent) and issubclass(PowerGridAgent, GridAgent)


def test_a_device_on_its_own_from_its_config():
    gen = Generator(agent_id="g", device_config={"name": "g", "device_state_config": GENERATOR}, tick_interval=2.0,
                    obs_delay=0.5, act_delay=0.3, msg_delay=0.2)
    assert (gen.tick_interval, gen.obs_delay, gen.act_delay, gen.msg_delay) == (2.0, 0.5, 0.3, 0.2)
    assert gen.bus == "633" and gen.action.space.low.tolist() == [0.5, -1.0] and gen.action.space.high.tolist() == [2.0, 1.0]
    gen.act(None, upstream_action=np.array([3.0, 0.0]))  # beyond p_max: the device delivers what it can
    assert gen.state.P_MW == 2.0
    gen.update_cost_safety()
    assert gen.cost == pytest.approx(0.02 * 4 + 10.0 * 2)
    ess = ESS(agent_id="e", device_config=STORAGE)
    assert ess.state.soc == 0.5 and ess.fleet.capacity[0] == 5.0 and ess.fleet.eff_ch[0] == 0.95
    with pytest.raises(ValueError, match=r"device 'e'.*unknown key\(s\) \['e_capacity'\]"):
        ESS(agent_id="e", device_config={**STORAGE, "e_capacity": 1.0})
    with pytest.raises(ValueError, match="pass its fleet and row, or its device_config"):
        ESS(agent_id="e")


def test_power_grid_agent_from_its_net_and_grid_config():
    grid = PowerGridAgent(net=IEEE13Bus("MG1"), env_id="e1", grid_config={
        "name": "MG1", "base_power": 1.0, "load_scale": 1.0,
        "devices": [{"type": "Generator", "name": "gen1", "device_state_config": GENERATOR},
                    {"type": "ESS", "name": "ess1", "device_state_config": STORAGE}]}, tick_interval=60.0, act_delay=2.0)
    assert grid.agent_id == "MG1" and list(grid.devices) == ["gen1", "ess1"] and grid.act_delay == 2.0
    assert list(grid.sgen) == ["gen1"] and list(grid.storage) == ["ess1"] and grid.devices["gen1"].upstream_id == "MG1"
    assert grid.action.dim_c == 3  # generator P, Q; storage P
    grid.act(grid.observe(), upstream_action=np.array([1.0, 0.2, -0.5]))
    assert grid.devices["gen1"].state.P_MW == 1.0 and grid.devices["ess1"].state.P_MW == -0.5
    hours = 48
    grid.add_dataset({"load": np.ones(hours), "solar": np.zeros(hours), "wind": np.zeros(hours), "price": np.full(hours, 50.0)})
    assert grid.dataset["price"][0] == 50.0
    with pytest.raises(ValueError, match="dataset lacks \\['wind'\\]"):
        grid.add_dataset({"load": np.ones(4), "solar": np.ones(4), "price": np.ones(4)})
    with pytest.raises(ValueError, match="needs its pandapower network"):
        PowerGridAgent(grid_config={})
    net = pn.case4gs()
    net.name = "test_grid"
    assert PowerGridAgent(net=net, grid_config={}).agent_id == "test_grid"


def test_episode_flags_answer_all_as_the_earlier_loops_read_them():
    env = MultiAgentMicrogrids({"max_episode_steps": 2})
    env.reset(seed=0)
    _, _, terminations, truncations, _ = env.step({a: np.zeros(3) for a in env.agents})
    assert terminations.get("__all__") is False and "__all__" not in terminations and set(terminations) == {"MG1", "MG2", "MG3"}
    _, _, terminations, truncations, _ = env.step({a: np.zeros(3) for a in env.agents})
    assert terminations["__all__"] and truncations["__all__"] and truncations["MG1"] and not terminations["MG1"]
    assert pickle.loads(pickle.dumps(truncations))["__all__"] is True
    assert env.env_config is env.config and env.env_config["max_episode_steps"] == 2


def test_result_channel_and_the_broker_s_channels():
    broker = InMemoryBroker()
    channel = ChannelManager.result_channel("test_env", "test_agent")
    broker.create_channel(channel)
    broker.publish(channel, Message("test_env", "sender", "test_agent", 0.0, MessageType.ACTION, {"action": [1.0, 2.0]}))
    assert channel in broker.channels
    assert [m.payload for m in broker.consume(channel, recipient_id="test_agent", env_id="test_env")] == [{"action": [1.0, 2.0]}]


def test_a_device_on_a_fleet_row_given_a_config_too_is_refused():
    """Given both a fleet and a device_config, a device raised NameError."""
    ess = ESS(agent_id="e", device_config=STORAGE)
    with pytest.raises(ValueError, match="its fleet and row, or its device_config, not both"):
        ESS("e2", ess.fleet, 0, device_config=STORAGE)
    assert ESS("e3", ess.fleet, 0).parameters is None and ess.parameters[0] == "storage"
