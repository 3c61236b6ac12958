"""The fault model (FaultyBroker) in distributed mode: each fault and the degradation it documents."""
import numpy as np
import pytest

from heron.messaging import InMemoryBroker
from heron.messaging.faults import Faults, FaultyBroker
from powergrid.envs import MultiAgentMicrogrids


def run(faults=None, seed=0, steps=24, silent="hold"):
    """(rewards per step, stale flags per step, the env) of a distributed run under ``faults``."""
    broker = InMemoryBroker() if faults is None else FaultyBroker(InMemoryBroker(), faults, seed=seed)
    env = MultiAgentMicrogrids({"centralized": False, "train": False, "message_broker": broker, "silent_site": silent})
    env.reset(seed=1)
    rng, rewards, stale = np.random.default_rng(7), [], []
    for _ in range(steps):
        actions = {a: env.action_space(a).low + rng.random(env.action_space(a).shape) * (env.action_space(a).high - env.action_space(a).low)
                   for a in env.possible_agents}
        if not env.agents:
            env.reset()
        _, r, _, _, infos = env.step(actions)
        rewards.append([r[a] for a in env.possible_agents])
        stale.append([infos[a]["stale"] for a in env.possible_agents])
    return np.array(rewards), np.array(stale), env


def test_no_faults_change_nothing_and_duplicates_are_harmless():
    clean, stale, _ = run()
    assert not stale.any()
    for faults in (Faults(), Faults(duplicate=1.0)):
        rewards, stale, env = run(faults)
        np.testing.assert_allclose(rewards, clean, rtol=0, atol=1e-12)
        assert not stale.any()
    assert env.message_broker.counts["duplicated"] > 0


def test_lost_commands_leave_the_devices_at_their_last_setpoint_and_the_sites_stale():
    rewards, stale, env = run({"action": Faults(loss=1.0)}, steps=6)
    assert stale.all()
    np.testing.assert_allclose(env.storage.soc, env.storage.soc_init)  # never commanded: idle
    assert env.message_broker.counts["lost"] >= 6 * 3


def test_reports_that_miss_the_deadline_are_held_and_arrive_late():
    """Every report late: the sites are held (stale) and each later step brings the previous
    step's reports, dropped as late. The rewards are the clean run's: a held site is scored by
    the env from the physics, never by its held report, so a silent site cannot earn more."""
    clean, _, _ = run(steps=5)
    rewards, stale, env = run({"info": Faults(latency=2.0, deadline=1.0)}, steps=5)
    assert stale.all()
    np.testing.assert_allclose(rewards, clean, rtol=0, atol=1e-9)
    assert env.exchange.late == 4 * 3
    with pytest.raises(ValueError, match="site 'MG1' sent no report this step"):
        run({"info": Faults(loss=1.0)}, steps=1, silent="raise")


def test_lost_messages_degrade_in_proportion_and_the_run_is_seeded():
    a = run(Faults(loss=0.2), seed=3, steps=40)
    b = run(Faults(loss=0.2), seed=3, steps=40)
    np.testing.assert_array_equal(a[0], b[0])
    share = a[1].mean()
    assert 0.2 < share < 0.9  # a site is stale when any of its ~4 messages of a step is lost: 1 - 0.8**4 ≈ 0.59
    assert a[2].message_broker.counts["lost"] > 0


def test_bad_fault_settings_are_named():
    with pytest.raises(ValueError, match="Faults loss must be a probability in \\[0, 1\\], got 1.5"):
        Faults(loss=1.5)
    with pytest.raises(ValueError, match="Faults latency must be a finite number of seconds >= 0, got -1"):
        Faults(latency=-1)
    with pytest.raises(ValueError, match="faults of 'action' must be a Faults"):
        FaultyBroker(InMemoryBroker(), {"action": 0.1})


def test_a_site_that_never_got_results_sends_no_report_and_is_held():
    """Results lost from the first step: a site cannot compute its observation, so it reports
    nothing and the env holds it (this crashed the step before)."""
    clean, _, _ = run(steps=3)
    rewards, stale, env = run({"power_flow_results": Faults(loss=1.0)}, steps=3)
    assert stale.all()
    np.testing.assert_allclose(rewards, clean, rtol=0, atol=1e-9)  # the devices acted as commanded; the env scores them


@pytest.mark.slow  # 8 s; the fault model is covered in the quick loop by the tests above
def test_event_driven_mode_runs_on_the_fault_model():
    """In event-driven mode the messages on the broker are the controllers' commands to their
    devices (their delay is ScheduleConfig's msg_delay): a lost one leaves the device at its
    last command."""
    from heron.scheduling import ScheduleConfig
    from powergrid.agents.policies import RuleBasedPolicy

    def cost(broker):
        env = MultiAgentMicrogrids({"train": False, "env_update_interval": 60.0, "message_broker": broker})
        env.reset(options={"day": 0})
        for agent in env.agent_dict.values():
            agent.policy = RuleBasedPolicy(agent)
        env.setup_event_driven(seed=0)
        for agent_id in env.registered_agents:
            env.scheduler.register_agent(agent_id, schedule_config=ScheduleConfig.with_jitter(
                tick_interval=300.0 if agent_id in env.agent_dict else 10.0, msg_delay=0.5, jitter_ratio=0.1, seed=0))
        env.run_event_driven(12 * 3600.0)  # into the day: the commands change with the sun and the price
        return env.event_totals["cost"]

    clean = cost(InMemoryBroker())
    broker = FaultyBroker(InMemoryBroker(), Faults(loss=0.5), seed=1)
    lossy = cost(broker)
    assert broker.counts["lost"] > 0 and not np.allclose(lossy, clean, rtol=0, atol=1e-9)
    broker = FaultyBroker(InMemoryBroker(), Faults(), seed=1)
    np.testing.assert_allclose(cost(broker), clean, rtol=0, atol=1e-12)


def test_the_physics_channel_is_never_faulted():
    """A device's state update is what it injects into the network: losing it would let the
    network miss energy the device delivered (or its state of charge drift from its power)."""
    with pytest.raises(ValueError, match="no faults on 'state_updates': those messages are the simulation's physics"):
        FaultyBroker(InMemoryBroker(), {"state_updates": Faults(loss=0.5)})
    env = run(Faults(loss=1.0), steps=6)[2]  # every message but the devices' updates lost
    np.testing.assert_allclose(env.storage.soc, env.storage.soc_init)  # never commanded: idle, and the network saw it idle
    rewards, _, _ = run({"*": Faults(loss=0.3)}, seed=2, steps=24)
    assert np.isfinite(rewards).all()
