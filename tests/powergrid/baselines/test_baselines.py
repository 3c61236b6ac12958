"""The baselines bracket the task: random < zero < rule-based < perfect-foresight optimum."""
import numpy as np
import pytest

from powergrid.__main__ import main
from powergrid.baselines import format_table, play_day, plan_day, run_baselines
from powergrid.envs import MultiAgentMicrogrids


@pytest.fixture(scope="module")
def table():
    return run_baselines(20, config={"setup": "ieee34_ieee13_simbench"})


def test_baselines_are_ordered_on_the_test_split(table):
    means = {name: r.mean() for name, r in table.items()}
    order = ["random", "zero", "rule-based", "optimum"]
    returns = [means[n]["return"] for n in order]
    assert returns == sorted(returns) and len(set(returns)) == 4
    for worse in ("random", "zero"):  # the reference controller beats idling and chance on every count
        assert means["rule-based"]["cost"] < means[worse]["cost"]
        assert means["rule-based"]["safety"] <= means[worse]["safety"]
    assert "optimum" in format_table(table) and len(table["zero"].returns) == 20


def test_the_plan_stays_within_every_device_limit():
    planner, env = MultiAgentMicrogrids({"train": False}), MultiAgentMicrogrids({"train": False})
    planner.reset(options={"day": 3})
    plan = plan_day(planner)
    g, s = env.generators, env.storage
    assert np.all(plan.gen_p >= g.p_min - 1e-9) and np.all(plan.gen_p <= g.p_max + 1e-9)
    assert np.all(np.hypot(plan.gen_p, plan.gen_q) <= g.s_max + 1e-9)
    assert np.all(np.abs(plan.gen_q) <= plan.gen_p * g.q_slope + g.q_idle + 1e-9)
    env.reset(options={"day": 3})
    for t in range(env.max_episode_steps):
        commanded = env.actions_from_setpoints(plan.gen_p[t], plan.gen_q[t], plan.ess_p[t])
        _, _, _, _, infos = env.step(commanded)
        for a in env.possible_agents:  # what the planner asked for is what the devices deliver
            np.testing.assert_allclose(infos[a]["delivered_action"], commanded[a], atol=1e-6)
        assert np.all(s.soc >= s.soc_min - 1e-6) and np.all(s.soc <= s.soc_max + 1e-6)


def test_what_if_leaves_the_episode_as_it_was():
    probed, plain = MultiAgentMicrogrids({"train": False}), MultiAgentMicrogrids({"train": False})
    for env in (probed, plain):
        env.reset(options={"day": 2})
    out = probed.what_if(5, probed.generators.p_max, np.zeros(3), np.full(3, 0.1))
    assert set(out) == {"price", "p_import", "vm", "vm_owner", "line_loading", "trafo_loading", "gen_cap"}
    assert out["vm"].shape == out["vm_owner"].shape and out["trafo_loading"].shape == (3,)
    actions = {a: np.array([0.1, 0.0, -0.05]) for a in plain.possible_agents}
    a_obs, a_rew, *_ = probed.step(actions)
    b_obs, b_rew, *_ = plain.step(actions)
    for a in a_obs:  # the same solve from the same warm start
        np.testing.assert_array_equal(a_obs[a], b_obs[a])
        assert a_rew[a] == b_rew[a]
    with pytest.raises(ValueError, match="step t"):
        probed.what_if(10 ** 6, probed.generators.p_max, np.zeros(3), np.zeros(3))


def test_play_day_sums_one_episode():
    env = MultiAgentMicrogrids({"train": False})
    idle = env.actions_from_setpoints(env.generators.p_min, np.zeros(3), np.zeros(3))
    ret, cost, safety = play_day(env, 0, lambda step, obs: idle)
    assert ret == pytest.approx(-(cost + 10.0 * safety))


def test_baselines_command_and_bad_input(capsys):
    assert main(["baselines", "--days", "1"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("random", "zero", "rule-based", "optimum"))
    with pytest.raises(SystemExit):
        main(["--episodes", "0"])
    assert "positive whole number" in capsys.readouterr().err
    with pytest.raises(ValueError, match="days"):
        run_baselines(0)
    with pytest.raises(ValueError, match="unknown baseline"):
        run_baselines(1, names=("best",))
