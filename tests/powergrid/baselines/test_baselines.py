"""The baselines bracket the task on every shipped setup, and the score normalises per day."""
import json

import numpy as np
import pytest

from powergrid.__main__ import main
from powergrid.agents.policies import RuleBasedPolicy
from powergrid.baselines import (do_nothing, format_table, normalised, passive_schedule, plan_day, play_day,
                                 play_schedule, run_baselines, score, task_config)
from powergrid.envs import MultiAgentMicrogrids

SIMBENCH = "ieee34_ieee13_simbench"


@pytest.mark.slow
@pytest.mark.parametrize("setup, days", [("ieee34_ieee13", 3), (SIMBENCH, 20)])
def test_baselines_bracket_the_task(setup, days):
    table = run_baselines(days, setup=setup)
    total = {name: r.returns.sum() for name, r in table.items()}
    assert total["random"] < total["rule-based"]
    assert total["zero"] < total["rule-based"] and total["do-nothing"] < total["rule-based"] < total["optimum"]
    for name, r in table.items():  # no baseline violates more than doing nothing
        assert r.safety.sum() >= table["optimum"].safety.sum() - 1e-9
    assert np.all(table["optimum"].returns >= table["do-nothing"].returns - 1e-6)  # per day, not only in total
    shown = format_table(table)
    assert "100.0 %" in shown and "Per day" in shown and len(table["zero"].returns) == days


def test_the_task_is_the_one_load_setup_gives():
    default = task_config()
    assert default["setup"] == "ieee34_ieee13" and default["max_episode_steps"] == 96 and default["share_reward"]
    assert default["train"] is False
    assert task_config(SIMBENCH, {"max_episode_steps": 12})["max_episode_steps"] == 12
    assert task_config(None, {"setup": SIMBENCH})["dso_config"]["network"] == "IEEE34"
    with pytest.raises(ValueError, match="days is 400"):
        run_baselines(400, setup=SIMBENCH, names=("zero",))


def test_do_nothing_is_passive():
    env = MultiAgentMicrogrids(task_config(None, {"max_episode_steps": 24}))
    env.reset(options={"day": 1})
    passive = passive_schedule(env).actions(env)
    replayed = play_schedule(env, 1, passive)
    actions = do_nothing(env)
    assert play_day(env, 1, lambda step, obs: actions) == pytest.approx(replayed, abs=1e-9)
    env.reset(options={"day": 1})
    for step in range(3):
        _, _, _, _, infos = env.step(actions)
        for a, info in infos.items():  # nothing stored or drawn, no reactive power
            delivered = info["delivered_action"]
            assert delivered[-1] == 0.0 and delivered[1] == 0.0


@pytest.mark.slow
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
    assert play_schedule(env, 3, plan.actions(env))[0] == pytest.approx(plan.episode_return, abs=1e-9)


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


def test_normalised_score_per_day_and_pooled():
    reference, optimum = np.array([-10.0, -20.0, -5.0]), np.array([-6.0, -10.0, -5.0])
    assert normalised(reference, reference, optimum).total == 0.0
    top = normalised(optimum, reference, optimum)
    assert top.total == 1.0 and top.interval == (1.0, 1.0)
    half = normalised([-8.0, -15.0, -5.0], reference, optimum)
    np.testing.assert_allclose(half.per_day[:2], [0.5, 0.5])
    assert np.isnan(half.per_day[2])  # the optimum gains nothing on that day: no score
    assert half.total == pytest.approx(0.5) and half.interval[0] <= 0.5 <= half.interval[1]
    mixed = normalised([-6.0, -20.0, -5.0], reference, optimum)  # all of day 0's gain, none of day 1's
    assert mixed.total == pytest.approx(4 / 14) and mixed.interval[0] < mixed.total < mixed.interval[1]
    assert "% of the optimum's gain" in str(mixed)
    with pytest.raises(ValueError, match="one length"):
        normalised([1.0], reference, optimum)
    with pytest.raises(ValueError, match="finite"):
        normalised([np.nan, 0.0, 0.0], reference, optimum)
    with pytest.raises(ValueError, match="gains nothing"):
        normalised(reference, reference, reference)


@pytest.mark.slow
def test_score_of_a_policy_matches_the_table():
    table = run_baselines(2, setup=SIMBENCH, names=("do-nothing", "rule-based", "optimum"))
    env = MultiAgentMicrogrids(task_config(SIMBENCH))
    policies = {a: RuleBasedPolicy(agent) for a, agent in env.agent_dict.items()}
    by_policy = score(policies, days=2, setup=SIMBENCH, baselines=table)
    np.testing.assert_allclose(by_policy.returns, table["rule-based"].returns)
    by_returns = score(table["rule-based"].returns, setup=SIMBENCH, baselines=table)
    assert by_policy.total == by_returns.total
    assert score(table["optimum"].returns, baselines=table).total == pytest.approx(1.0)
    with pytest.raises(ValueError, match="days is needed"):
        score(policies)
    with pytest.raises(ValueError, match="one per day"):
        score(np.zeros((2, 2)), baselines=table)


def test_baselines_command_and_bad_input(capsys, tmp_path):
    config = tmp_path / "task.json"
    config.write_text(json.dumps({"setup": SIMBENCH, "max_episode_steps": 6}))
    assert main(["baselines", "--days", "2", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"setup {SIMBENCH}: episodes of 6 steps" in out
    assert all(name in out for name in ("random", "zero", "do-nothing", "rule-based", "optimum"))
    assert "no score: the optimum gains nothing over the reference" in out  # 6 night hours: nothing to gain
    with pytest.raises(SystemExit):
        main(["--episodes", "0"])
    assert "positive whole number" in capsys.readouterr().err
    with pytest.raises(ValueError, match="days"):
        run_baselines(0)
    with pytest.raises(ValueError, match="unknown baseline"):
        run_baselines(1, names=("best",))
