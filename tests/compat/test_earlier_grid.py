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
