"""The agent and scheduler API the earlier HERON's users wrote against (its example 07)."""
import numpy as np
import pytest

from heron.agents.coordinator_agent import CoordinatorAgent
from heron.agents.field_agent import FieldAgent
from heron.core.policies import Policy
from heron.scheduling import EventScheduler, EventType


class Knob(FieldAgent):
    """A field agent declared through the construction hooks, with its own observation."""

    def __init__(self, agent_id):
        self.value = 0.0
        super().__init__(agent_id=agent_id, config={"name": agent_id}, tick_interval=1.0, act_delay=0.1)

    def set_action(self):
        self.action.set_specs(dim_c=1, range=(np.array([-1.0]), np.array([1.0])))

    def _get_obs(self):
        return np.array([self.value], dtype=np.float32)


class Constant(Policy):
    def __init__(self, values):
        self.values = np.asarray(values, float)

    def forward(self, observation):
        return self.values


def test_construction_hooks_config_and_own_observation():
    knob = Knob("k1")
    assert knob.config == {"name": "k1"} and knob.action.dim_c == 1 and knob.action_space.shape == (1,)
    knob.value = 2.5
    np.testing.assert_array_equal(knob.observe().local["state"], [2.5])
    with pytest.raises(ValueError, match="config must be a dict"):
        FieldAgent("bad", config=[1])


def test_assigning_subordinate_agents_wires_the_coordinator():
    k1, k2 = Knob("k1"), Knob("k2")
    boss = CoordinatorAgent("boss", policy=Constant([0.5, -0.25]), tick_interval=5.0, msg_delay=0.5)
    boss.subordinate_agents = {"k1": k1, "k2": k2}
    assert boss.subordinate_agents == {"k1": k1, "k2": k2} and k1.upstream_id == "boss"
    assert boss.action.dim_c == 2
    boss.act(boss.observe())
    assert (k1.action.c[0], k2.action.c[0]) == (0.5, -0.25)


def test_scheduler_payloads_and_intervals_as_the_earlier_handlers_read_them():
    knob = Knob("k1")
    knob.policy = Constant([0.75])
    scheduler = EventScheduler(start_time=0.0)
    scheduler.register_agent(agent_id="k1", tick_interval=knob.tick_interval, obs_delay=0.0, act_delay=knob.act_delay)
    assert scheduler.agent_intervals == {"k1": 1.0}
    effects, deliveries = [], []
    scheduler.set_handler(EventType.AGENT_TICK, lambda e, s: knob.tick(s, e.timestamp, global_state=None))
    scheduler.set_handler(EventType.ACTION_EFFECT, lambda e, s: effects.append((e.timestamp, e.payload.get("action")[0])))
    scheduler.set_handler(EventType.MESSAGE_DELIVERY, lambda e, s: deliveries.append((e.payload.get("sender"), e.payload.message)))
    scheduler.schedule_message_delivery("boss", "k1", {"setpoint": 1.0}, delay=0.5)
    assert scheduler.run_until(t_end=2.0) > 0
    assert [t for t, _ in effects] == pytest.approx([0.1, 1.1]) and effects[0][1] == 0.75  # 2.1 lies past t_end
    assert deliveries == [("boss", {"setpoint": 1.0})]


def test_level_keyword_and_as_vector():
    from heron.agents.base import Agent
    from heron.core.observation import Observation

    assert Agent("a", level=0).level == 0 and FieldAgent("f").level == 1
    with pytest.raises(ValueError, match="level must be a non-negative whole number"):
        Agent("a", level=-1)
    obs = Observation({"x": np.array([1.0, 2.0])}, {"y": 3.0})
    np.testing.assert_array_equal(obs.as_vector(), obs.vector())
