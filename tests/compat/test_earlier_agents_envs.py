"""The earlier agent, proxy, env-core and broker contracts."""
import gymnasium as gym
import numpy as np
import pytest

from heron.agents.coordinator_agent import CoordinatorAgent
from heron.agents.field_agent import FieldAgent, FieldConfig
from heron.agents.proxy_agent import PROXY_LEVEL, ProxyAgent
from heron.agents.system_agent import SystemAgent
from heron.core.policies import Policy
from heron.envs.base import BaseEnv, HeronEnvCore, MultiAgentEnv
from heron.messaging import ChannelManager
from heron.messaging.base import Message, MessageType
from heron.messaging.memory import InMemoryBroker
from heron.scheduling.tick_config import JitterType, TickConfig
from powergrid.agents.proxy_agent import ProxyAgent as GridProxyAgent


class Device(FieldAgent):
    def set_action(self):
        self.action.set_specs(dim_c=2, range=(-np.ones(2), np.ones(2)))


class Area(CoordinatorAgent):
    def _build_subordinate_agents(self, agent_configs, env_id=None, upstream_id=None):
        return {c["id"]: Device(c["id"]) for c in agent_configs}


class Operator(SystemAgent):
    def _build_coordinators(self, coordinator_configs, env_id=None, upstream_id=None):
        return [Area(c["id"], config={"agents": c.get("agents", [])}) for c in coordinator_configs]


class SeedlessPolicy(Policy):
    resets = 0

    def forward(self, obs):
        return np.zeros(2)

    def reset(self):
        SeedlessPolicy.resets += 1


def test_hierarchy_from_config_and_the_earlier_names():
    op = Operator(config={"coordinators": [{"id": "z1", "agents": [{"id": "d1"}, {"id": "d2"}]}]})
    assert op.agent_id == "system_agent" and list(op.coordinators) == ["z1"]
    zone = op.coordinators["z1"]
    assert zone.upstream_id == "system_agent" and list(zone.subordinate_agents) == ["d1", "d2"]
    assert zone.get_joint_action_space().shape == (4,) and set(zone.get_subordinate_action_spaces()) == {"d1", "d2"}
    assert repr(op) == "Operator('system_agent', level=3, coordinators=1, protocol=SetpointProtocol)" and "subordinates=2" in repr(zone)
    assert isinstance(CoordinatorAgent("empty").get_joint_action_space(), gym.spaces.Discrete)
    with pytest.raises(ValueError, match="_build_subordinate_agents"):
        CoordinatorAgent("c", config={"agents": [{"id": "x"}]})


def test_timing_spaces_and_clock_by_their_earlier_names():
    config = TickConfig.with_jitter(tick_interval=2.0, obs_delay=0.1, jitter_type=JitterType.GAUSSIAN, seed=1)
    d = Device("d", tick_config=config, observation_space=gym.spaces.Box(-1, 1, (3,)))
    assert d.tick_config is config and d.tick_interval == 2.0 and d.observation_space.shape == (3,)
    d.enable_jitter(jitter_ratio=0.2, seed=5)
    assert d.tick_config.jitter_type == JitterType.GAUSSIAN and d.tick_config.jitter_ratio == 0.2 and d.tick_interval == 2.0
    d.disable_jitter()
    assert d.tick_config.jitter_type == JitterType.NONE
    d._timestep = 7.0
    assert d.timestamp == 7.0
    d.update_timestep(3.5)
    assert d._timestep == 3.5
    boxed = Device("b", action_space=gym.spaces.Box(0.0, 1.0, (3,), np.float32))
    assert boxed.action.dim_c == 3 and boxed.action_space == gym.spaces.Box(0.0, 1.0, (3,), np.float32)
    boxed.action_space = gym.spaces.Discrete(4)
    assert (boxed.action.dim_c, boxed.action.dim_d, list(boxed.action.ncats)) == (0, 1, [4])
    assert Device("f", config={"name": "bat", "discrete_action": True}).field_config == FieldConfig("bat", {}, True, 2)
    with pytest.raises(ValueError, match="action_space must be"):
        Device("x", action_space=gym.spaces.Dict({}))


def test_a_policy_written_without_a_seed_parameter_resets():
    before = SeedlessPolicy.resets
    Device("d", policy=SeedlessPolicy()).reset(seed=3)
    assert SeedlessPolicy.resets == before + 1


def test_messages_and_setpoints_between_agents():
    broker = InMemoryBroker()
    up, down = Device("up", env_id="e"), Device("down", env_id="e", upstream_id="up")
    for a in (up, down):
        a.set_message_broker(broker)
    up.send_message({"price": 50.0}, recipient_id="down")
    assert down.receive_messages(sender_id="up") == [{"price": 50.0}] and down.receive_messages(sender_id="up") == []
    up.send_action_to_subordinate("down", action=[0.5, -0.5])
    assert down.receive_action_messages() == [[0.5, -0.5]]
    up.send_action_to_subordinate("down", action=np.array([0.25, 0.0]))
    np.testing.assert_array_equal(down.receive_commands(), [0.25, 0.0])  # the same channel the real path reads
    with pytest.raises(RuntimeError, match="no message broker configured"):
        Device("lonely").send_message({}, recipient_id="up")
    assert Device("lonely").receive_messages() == []


def test_acting_with_nothing_to_act_on_raises_for_either_earlier_expectation():
    for error in (ValueError, RuntimeError):
        with pytest.raises(error, match="No action or policy"):
            Device("d").act()


def test_proxy_agent_keeps_history_and_filters_by_rule():
    proxy = ProxyAgent(subordinate_agents=["a", "a", "b"], visibility_rules={"a": ["p"]}, history_length=2)
    assert proxy.level == PROXY_LEVEL and proxy.subordinate_agents == ["a", "b"]
    for t, p in enumerate((1.0, 2.0, 3.0)):
        proxy._timestep = float(t)
        proxy.update_state({"agents": {"a": {"p": p, "q": -p}, "b": {"p": p}}})
    assert [h["timestamp"] for h in proxy.state_history] == [1.0, 2.0]
    assert proxy.get_latest_state_for_agent("a") == {"p": 3.0} and proxy.get_latest_state_for_agent("b") == {"p": 3.0}
    assert proxy.get_state_for_agent("a", 1, at_time=1.5) == {"p": 2.0} and proxy.get_state_at_time(0.0)["agents"]["b"] == {"p": 2.0}
    proxy.reset()
    assert proxy.state_cache == {} and proxy.state_history == []
    with pytest.raises(ValueError, match="history_length"):
        ProxyAgent(history_length=0)


def test_grid_proxy_relays_the_newest_network_state():
    broker = InMemoryBroker()
    proxy = GridProxyAgent("proxy", message_broker=broker, env_id="e", subordinate_agents=["MG1", "MG2"])
    channel = ChannelManager.custom_channel("power_flow", "e", "proxy")
    assert channel in broker.channels
    for step in range(2):
        broker.publish(channel, Message("e", "environment", "proxy", float(step), MessageType.STATE_UPDATE,
                                        {"step": step, "agents": {"MG1": {"vm": 1.0}}}))
    assert proxy.receive_network_state_from_environment()["step"] == 1 and proxy.receive_network_state_from_environment() is None
    proxy.distribute_network_state_to_agents()
    got = {a: broker.consume(ChannelManager.info_channel("proxy", a, "e"), a, "e") for a in ("MG1", "MG2")}
    assert got["MG1"][0].payload == {"vm": 1.0} and got["MG2"][0].payload == {}
    with pytest.raises(ValueError, match="requires a message broker"):
        GridProxyAgent("proxy")


class Env(MultiAgentEnv):
    def step(self, actions):
        return {}, {}, {}, {}, {}


def test_env_core_registers_observes_and_publishes():
    env = Env()
    assert env.env_id.startswith("env_") and isinstance(env.message_broker, InMemoryBroker)
    zone = Area("z", config={"agents": [{"id": "d"}]})
    env.register_agents([zone, zone.subordinates["d"]])
    env.register_agent(zone)  # again: nothing changes
    assert set(env.heron_agents) == {"z", "d"} and set(env.heron_coordinators) == {"z"}
    with pytest.raises(ValueError, match="another agent named 'z'"):
        env.register_agent(Area("z"))
    env.configure_agents_for_distributed()
    assert zone.broker is env.message_broker and set(env.get_observations()) == {"z", "d"}
    env.apply_actions({"d": np.array([0.5, 0.5])})
    np.testing.assert_array_equal(zone.subordinates["d"].action.c, [0.5, 0.5])
    env.publish_action("z", "d", np.array([0.1, 0.2]))
    np.testing.assert_array_equal(zone.subordinates["d"].receive_commands(), [0.1, 0.2])
    env.publish_state_update({"load": 1.0})
    zone._timestep = 9.0
    env._timestep = 2
    assert env.reset() == ({}, {}) and zone._timestep == 0.0 and env.simulation_time == 0.0
    env.close()
    assert env.message_broker.get_environment_channels(env.env_id) == []
    assert isinstance(BaseEnv(env_id="single"), gym.Env) and issubclass(MultiAgentEnv, HeronEnvCore)


def test_broker_shows_held_messages_and_subscribers():
    broker = InMemoryBroker()
    broker.create_channel("c")
    assert broker.channels == {"c": []} and broker.subscribers == {}
    broker.subscribe("c", print)
    broker.publish("c", Message("e", "s", "r1", 2.0, MessageType.INFO, {"n": 2}))
    broker.publish("c", Message("e", "s", "r2", 1.0, MessageType.INFO, {"n": 1}))
    assert [m.payload["n"] for m in broker.channels["c"]] == [1, 2] and broker.subscribers == {"c": [print]}
    broker.consume("c", "r2", "e")
    assert [m.recipient_id for m in broker.channels["c"]] == ["r1"] and repr(broker) == "InMemoryBroker(channels=1, messages=1)"
    links = ChannelManager.agent_channels("mid", "top", ["leaf"], "e")
    assert links == {"subscribe": ["env_e__action__top_to_mid", "env_e__info__leaf_to_mid"],
                     "publish": ["env_e__info__mid_to_top", "env_e__action__mid_to_leaf"]}


def test_a_dict_of_shares_by_subordinate_reaches_each_one():
    op = Operator(config={"coordinators": [{"id": "z1", "agents": [{"id": "d1"}, {"id": "d2"}]}]})
    op.act(upstream_action={"z1": {"d1": np.array([0.5, -0.5])}})
    devices = op.coordinators["z1"].subordinates
    np.testing.assert_array_equal(devices["d1"].action.c, [0.5, -0.5])
    np.testing.assert_array_equal(devices["d2"].action.c, [0.0, 0.0])
    zone = op.coordinators["z1"]
    zone.act(upstream_action={"price": 3.0})  # names no subordinate: a signal, as before
    assert zone.upstream_signal == {"price": 3.0}
