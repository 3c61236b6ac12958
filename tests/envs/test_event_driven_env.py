import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from heron.agents import CoordinatorAgent, FieldAgent
from heron.core import Action, Policy
from heron.envs import HeronEnv, ThermalRoomsEnv
from heron.messaging import InMemoryBroker
from heron.scheduling import EventType, ScheduleConfig


def test_toy_env_passes_the_pettingzoo_api_test():
    parallel_api_test(ThermalRoomsEnv(), num_cycles=60)


def test_toy_env_rejects_bad_actions():
    env = ThermalRoomsEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="missing"):
        env.step({"room_0": [0.5]})
    with pytest.raises(ValueError, match="agent 'room_1'.*NaN"):
        env.step({"room_0": [0.5], "room_1": [np.nan], "room_2": [0.5]})


def test_scheduler_before_setup_raises():
    with pytest.raises(RuntimeError, match="setup_event_driven"):
        ThermalRoomsEnv().scheduler


class Hold(Policy):
    def __init__(self, value):
        self.value = value

    def forward(self, obs):
        return np.atleast_1d(np.asarray(self.value, dtype=float))


def make_env(act_delay=0.2, obs_delay=0.0, msg_delay=0.05):
    devices = [FieldAgent(f"d{i}", action=Action(dim_c=1, range=(0, 10)), tick_interval=1.0, act_delay=act_delay,
                          obs_delay=obs_delay) for i in range(2)]
    coordinator = CoordinatorAgent("mg", subordinates=devices, policy=Hold([3.0, 4.0]),
                                   tick_interval=5.0, msg_delay=msg_delay)
    env = HeronEnv(env_id="t", message_broker=InMemoryBroker())
    env.register_heron_agent(coordinator)
    return env, coordinator, devices


def test_default_flow_delays_and_broker_delivery():
    env, coordinator, devices = make_env()
    env.setup_event_driven()
    effects = []

    def on_effect(agent_id, action):
        effects.append((env.simulation_time, agent_id, list(action)))
        env.apply_action(agent_id, action)

    env.setup_default_handlers(on_action_effect=on_effect)
    deliveries = []
    env.scheduler.set_handler(EventType.MESSAGE_DELIVERY, lambda e, s: (deliveries.append(e.timestamp), env._handle_message(e, s)))
    env.run_event_driven(2.5)
    # t=0: devices have no policy and no setpoint: they hold. The coordinator acts at 0, its action
    # takes effect at 0 (act_delay 0), messages arrive at 0.05, devices read them at their tick at 1.0,
    # and the setpoints take effect 0.2 later.
    assert deliveries == [0.05, 0.05]
    assert effects == [(1.2, "d0", [3.0]), (1.2, "d1", [4.0])]
    assert [d.action.c[0] for d in devices] == [3.0, 4.0]
    assert env.message_broker.pending_count() == 0


def test_observation_delay_shifts_the_decision():
    env, coordinator, devices = make_env(act_delay=0.0, obs_delay=0.3)
    for d in devices:
        d.policy = Hold(1.0)
    env.setup_event_driven()
    effects = []
    env.setup_default_handlers(on_action_effect=lambda aid, a: effects.append((env.simulation_time, aid)))
    env.run_event_driven(1.0)
    assert [t for t, aid in effects if aid == "d0"] == [0.3]


def test_duplicate_agents_rejected():
    env, coordinator, devices = make_env()
    with pytest.raises(ValueError, match="already registered"):
        env.register_heron_agent(devices[0])


def test_event_driven_run_is_reproducible():
    def run(seed):
        env = ThermalRoomsEnv()
        env.reset(seed=0)
        env.setup_event_driven(seed=seed)
        for agent_id, agent in env.registered_agents.items():
            env.scheduler.register_agent(agent_id, schedule_config=ScheduleConfig.with_jitter(
                tick_interval=agent.tick_interval, obs_delay=0.1, act_delay=0.2, jitter_ratio=0.1))
        env.run_event_driven(600.0)
        return [r.state["thermal"]["temperature"] for r in env.rooms], env.scheduler.processed_count

    assert run(1) == run(1)
    assert run(1) != run(2)
