"""The optimum is a bound no direct search on the real env beats, and violating never pays."""
import numpy as np
import pytest

from powergrid.baselines import do_nothing, plan_day, play_day, play_schedule, task_config
from powergrid.baselines.search import hunt
from powergrid.envs import MultiAgentMicrogrids

SETUPS = ("ieee34_ieee13", "ieee34_ieee13_simbench")


def planned(config, day):
    env = MultiAgentMicrogrids(config)
    env.reset(options={"day": day})
    return env, plan_day(env)


@pytest.mark.slow
@pytest.mark.parametrize("day", [0, 1, 2])
@pytest.mark.parametrize("setup", SETUPS)
def test_no_direct_search_beats_the_optimum(setup, day):
    config = task_config(setup)
    env, plan = planned(config, day)
    report = hunt(config, day, plan.actions(env), budget="small")
    assert report.plan == pytest.approx(plan.episode_return, abs=1e-9)  # the plan's value is what the env pays
    assert set(report.found) == {"coordinate", "cma-es", "corners+coordinate"} and report.evaluations > 1000
    assert report.gain <= 1e-3, f"{setup} day {day}: {report.found} beat the optimum {report.plan}"


@pytest.mark.slow
@pytest.mark.parametrize("setup", SETUPS)
def test_the_optimum_violates_no_more_than_doing_nothing(setup):
    config = task_config(setup, {"max_episode_steps": 24})
    env, plan = planned(config, 0)
    _, _, safety = play_schedule(env, 0, plan.actions(env))
    nothing = do_nothing(env)
    zero = {a: np.zeros(env.action_space(a).shape) for a in env.possible_agents}
    for actions in (nothing, zero):
        assert safety <= play_day(env, 0, lambda step, obs: actions)[2] + 1e-12
    # the cheapest schedule that ignores safety violates no more: there is no saving for a violation to buy
    cheapest_env, cheapest = planned({**config, "penalty": 0.0}, 0)
    ret, _, cheapest_safety = play_schedule(env, 0, cheapest.actions(cheapest_env))
    assert cheapest_safety <= safety + 1e-12 and ret <= plan.episode_return + 1e-6 * abs(plan.episode_return)


@pytest.mark.slow
def test_trading_violations_for_cost_loses():
    """With the operator's regulators set to the band's top, violations become reachable and
    would save money: the plan that ignores safety is cheaper, and at the shipped penalty it
    loses to the plan that pays for its violations. The saving per unit of violation (the
    most a violation can earn) is below the shipped penalty."""
    config = task_config("ieee34_ieee13_simbench")
    config["dso_config"] = {**config["dso_config"], "regulator_setpoint": 1.045}
    shipped = float(config.get("penalty", 10.0))
    env, safe = planned(config, 0)
    cheap_env, cheap = planned({**config, "penalty": 0.0}, 0)
    safe_return, safe_cost, safe_safety = play_schedule(env, 0, safe.actions(env))
    cheap_return, cheap_cost, cheap_safety = play_schedule(env, 0, cheap.actions(cheap_env))
    assert cheap_safety > safe_safety > 0 and cheap_cost < safe_cost  # violating saves money...
    assert cheap_return < safe_return  # ... and loses at the shipped penalty
    assert (safe_cost - cheap_cost) / (cheap_safety - safe_safety) < shipped
