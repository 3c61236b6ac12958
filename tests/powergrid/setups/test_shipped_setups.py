"""Every shipped setup builds from what ``load_setup`` returns, as the env of that setup."""
import numpy as np
import pytest

from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import get_available_setups, load_setup


@pytest.mark.parametrize("name", get_available_setups())
def test_load_setup_gives_the_env_of_that_setup(name):
    loaded = MultiAgentMicrogrids({**load_setup(name), "train": False})
    named = MultiAgentMicrogrids({"setup": name, "train": False, "max_episode_steps": loaded.max_episode_steps})
    assert loaded.possible_agents == named.possible_agents
    a, _ = loaded.reset(options={"day": 1})
    b, _ = named.reset(options={"day": 1})
    for agent in a:
        np.testing.assert_array_equal(a[agent], b[agent])
    np.testing.assert_array_equal(loaded.core.model.profiles["test"], named.core.model.profiles["test"])
