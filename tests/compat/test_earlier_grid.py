"""The earlier env and grid-agent names user code reaches: env.dso, env._day, penalties, devices."""
import numpy as np
import pytest

from powergrid.agents.devices import Generator
from powergrid.agents.grid_agent import GridAgent
from powergrid.envs import MultiAgentMicrogrids


def gen(name):
    return Generator(agent_id=name, device_config={"name": name, "device_state_config": {"p_max_MW": 1.0, "p_min_MW": 0.0}})


def test_dso_dataset_and_day():
    env = MultiAgentMicrogrids()
    assert env._day == 0
    env.reset(seed=3)
    assert env._day == env.episode_day
    dso = env.dso
    assert dso.net is env.net and set(dso.dataset) == {"load", "solar", "wind", "price"}
    hours = env.model.profiles[env.core.split].shape[0]
    assert all(isinstance(v, np.ndarray) and v.shape == (hours,) for v in dso.dataset.values())
    price_now = env.model.profiles[env.core.split][env.core.hour, env.model.price_series]
    assert dso.dataset["price"][env.core.hour] == pytest.approx(price_now)
    assert (env._safety, env._convergence_failure_reward) == (env.config["penalty"], env.config["convergence_failure_reward"])


def test_grid_agent_devices_by_assignment():
    grid = GridAgent("mg", devices=[gen("g1")], centralized=False)
    assert not grid.centralized and list(grid.devices) == ["g1"]
    grid.devices = {"g2": gen("g2"), "g3": gen("g3")}
    assert list(grid.devices) == ["g2", "g3"] and grid.devices["g2"].upstream_id == "mg"
    assert repr(grid) == "GridAgent('mg', level=2, devices=2, protocol=SetpointProtocol)"
    shares = grid.coordinate_device(None, np.array([0.5, 0.0, 0.25, 0.0]))
    np.testing.assert_array_equal(shares["g3"], [0.25, 0.0])


def test_a_storage_unit_on_its_own_runs_its_physics_on_its_action():
    from powergrid.agents.devices import ESS
    ess = ESS(agent_id="ess", device_config={"name": "ess", "device_state_config": {
        "e_capacity_MWh": 10.0, "p_max_MW": 2.0, "p_min_MW": -2.0, "init_soc": 0.5, "ch_eff": 0.95, "dsc_eff": 0.95,
        "soc_min": 0.1, "soc_max": 0.9}})
    ess.action.c[:] = [1.0]
    ess.update_state()
    assert ess.electrical.P_MW == 1.0 and ess.state.soc == pytest.approx(0.5 + 0.95 / 10.0)
    ess.action.c[:] = [-1.0]
    ess.update_state()
    assert ess.state.soc == pytest.approx(0.595 - 1.0 / 0.95 / 10.0)


def test_reward_and_safety_by_agent_and_a_subclass_that_rewards_its_own_way():
    env = MultiAgentMicrogrids()
    env.reset(seed=2)
    _, rewards, *_ , infos = env.step({a: env.action_space(a).sample() * 0 for a in env.agents})
    by_agent, safety = env._reward_and_safety()
    assert set(by_agent) == set(env.possible_agents)
    assert all(by_agent[a] == pytest.approx(rewards[a]) and safety[a] == pytest.approx(infos[a]["safety"]) for a in by_agent)
    assert all(agent.cost == pytest.approx(infos[a]["cost"]) for a, agent in env.agent_dict.items())

    class Flat(MultiAgentMicrogrids):
        def _reward_and_safety(self):
            return {a: -1.0 for a in self.possible_agents}, {a: agent.safety for a, agent in self.agent_dict.items()}

    flat = Flat()
    flat.reset(seed=2)
    _, rewards, *_ = flat.step({a: flat.action_space(a).sample() * 0 for a in flat.agents})
    assert set(rewards.values()) == {-1.0}


def test_cigre_lv_by_its_earlier_module_path():
    from powergrid.networks.cigre import CIGRE_LV
    from powergrid.networks.cigre_lv import CIGRE_LV as earlier
    assert earlier is CIGRE_LV and len(earlier().bus) > 0
