import numpy as np
import pytest

from powergrid.__main__ import event_driven_env, main


def event_env(interval=None, seed=0):
    return event_driven_env(day=10, seed=seed, env_update_interval=interval)


def test_event_driven_power_flow_at_every_action_effect():
    env = event_env()
    env.run_event_driven(3600.0)
    assert env.event_totals["power_flows"] > 0 and env.event_totals["not_converged"] == 0
    assert np.any(env.storage.p != 0.0)  # the controllers' setpoints reached the devices
    # commands wait on the broker only until each device's next tick: at most one per device
    assert env.message_broker.pending_count() <= sum(len(a.devices) for a in env.agent_dict.values())


def test_event_driven_on_a_distributed_env_leaves_no_telemetry_behind():
    from powergrid.agents.policies import RuleBasedPolicy
    from powergrid.envs import MultiAgentMicrogrids

    env = MultiAgentMicrogrids({"centralized": False, "train": False})
    env.reset(options={"day": 3})
    for agent in env.agent_dict.values():
        agent.policy = RuleBasedPolicy(agent)
    env.setup_event_driven(seed=0)
    env.run_event_driven(3600.0)
    assert env.event_totals["power_flows"] > 0
    assert env.message_broker.pending_count() <= sum(len(a.devices) for a in env.agent_dict.values())


def test_event_driven_periodic_env_updates_and_profiles_follow_the_clock():
    env = event_env(interval=900.0)
    env.run_event_driven(2 * 3600.0)
    assert env.event_totals["power_flows"] == 8  # every 15 minutes
    assert env.core.hour == env.core.start_hour + 2


def test_event_driven_is_reproducible():
    def run(seed):
        env = event_env(seed=seed)
        env.run_event_driven(1800.0)
        return env.event_totals["cost"].copy(), env.storage.soc.copy()

    a, b = run(3), run(3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.slow  # 6 s: runs the main job; its flags are covered by tests/test_main_job.py
def test_main_job_prints_the_comparison(capsys):
    assert main(["--episodes", "1"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.split() and line.split()[0] in
             ("centralized", "distributed", "event-driven")}
    assert set(lines) == {"centralized", "distributed", "event-driven"}
    assert lines["centralized"][1:4] == lines["distributed"][1:4]  # same steps, same numbers


@pytest.mark.slow  # 5 s
def test_the_seeds_quick_start_runs_as_written_on_the_grid_env():
    """The event-driven guide's Quick Start with ``MyEnv = MultiAgentMicrogrids``: controllers
    without a policy hold (as the earlier HERON's coordinators did on a tick with nothing to
    act on), the network is still solved every simulated hour as the loads change, and the run
    reports what happened, hour by hour."""
    from powergrid.envs import MultiAgentMicrogrids
    from tests.test_seed_snippets import ENV_SNIPPETS, run_snippet

    ns = run_snippet(ENV_SNIPPETS["event-driven: quick start"].replace("t_end=3600.0", "t_end=3 * 3600.0"),
                     {"MyEnv": MultiAgentMicrogrids})
    env = ns["env"]
    assert env.simulation_time == 3 * 3600.0
    history = env.event_history
    assert [h["time"] for h in history] == [3600.0, 7200.0, 10800.0]  # one power flow per hour boundary
    assert all(h["converged"] for h in history) and env.event_totals["power_flows"] == 3
    assert set(history[0]["cost"]) == set(env.possible_agents) and np.all(env.event_totals["cost"] != 0)
    env.setup_default_handlers()  # with no arguments, as the guide's defaults
    assert env.run_event_driven(4 * 3600.0) > 0
