"""The earlier env's helpers beside the PettingZoo API (its examples 07 and 08 call them)."""
import numpy as np
import pytest

from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import load_setup


def test_actionable_agents_and_distributed_configuration():
    config = load_setup("ieee34_ieee13")
    config.update(train=False, centralized=False)
    env = MultiAgentMicrogrids(config)
    assert set(env.actionable_agents) == {"MG1", "MG2", "MG3"}
    env.configure_agents_for_distributed()  # already wired: nothing to change
    with pytest.raises(ValueError, match="build it with config 'centralized': False"):
        MultiAgentMicrogrids().configure_agents_for_distributed()


def test_power_grid_metrics_are_the_step_numbers():
    env = MultiAgentMicrogrids({"train": False})
    env.reset(options={"day": 0})
    for _ in range(12):  # noon: the solar generators produce
        _, rewards, _, _, infos = env.step({a: np.array([0.2, 0.0, -0.05]) for a in env.possible_agents})
    metrics = env.get_power_grid_metrics()
    cost = sum(i["cost"] for i in infos.values())
    safety = sum(i["safety"] for i in infos.values())
    assert metrics["total_cost"] == pytest.approx(cost) and metrics["total_safety"] == pytest.approx(safety)
    generation = env.generators.p.sum() + np.maximum(-env.storage.p, 0).sum()
    assert metrics["total_generation_mw"] == pytest.approx(generation) and generation > 0
    assert metrics["power_balance_mw"] == pytest.approx(metrics["total_generation_mw"] - metrics["total_load_mw"])
    assert metrics["convergence"] is True and 0 < metrics["cooperation_score"] <= 1
    info = env.get_ctde_training_info()
    assert info["agent_costs"] == pytest.approx({a: i["cost"] for a, i in infos.items()}) and info["episode_step"] == 12
