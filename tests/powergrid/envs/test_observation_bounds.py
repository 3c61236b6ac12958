"""Observation spaces have finite bounds from the data and device ratings, and every
observation lies within them."""
import numpy as np
import pytest

from powergrid.envs import MultiAgentMicrogrids


@pytest.mark.parametrize("setup", ["ieee34_ieee13", "ieee34_ieee13_simbench"])
def test_observations_stay_within_finite_bounds(setup):
    env = MultiAgentMicrogrids({"setup": setup, "train": False})
    for a in env.possible_agents:
        space = env.observation_space(a)
        assert np.isfinite(space.low).all() and np.isfinite(space.high).all() and (space.low <= space.high).all()
    names = env.observation_names("MG1")
    price = names.index("price [$/MWh]")
    prices = np.concatenate([env.core.model.profiles[split][:, env.core.model.price_series] for split in ("train", "test")])
    assert env.observation_space("MG1").low[price] <= prices.min() and env.observation_space("MG1").high[price] >= prices.max()
    rng = np.random.default_rng(0)
    for day in range(6):
        obs, _ = env.reset(options={"day": 10 * day})
        while env.agents:
            for a, o in obs.items():
                assert env.observation_space(a).contains(o), (a, o)
            extreme = day % 3  # random, every action at its low, every action at its high
            acts = {a: (rng.uniform(s.low, s.high) if extreme == 0 else s.low if extreme == 1 else s.high)
                    for a, s in ((a, env.action_space(a)) for a in env.agents)}
            obs, *_ = env.step(acts)


def test_agents_with_the_same_quantities_share_one_space():
    env = MultiAgentMicrogrids({"setup": "ieee34_ieee13_simbench"})  # loads of different areas, one layout
    assert all(env.observation_space(a) == env.observation_space("MG1") for a in env.possible_agents)
