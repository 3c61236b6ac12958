import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.wrappers import MultiAgentToSingleAgent


def test_single_agent_view_passes_gymnasium_check_env():
    env = MultiAgentToSingleAgent(MultiAgentMicrogrids(), agent_id="MG1")
    check_env(env, skip_render_check=True)


def test_other_agents_follow_their_policies_and_episode_ends():
    seen = []
    env = MultiAgentToSingleAgent(MultiAgentMicrogrids({"setup": "ieee34_ieee13_simbench"}), "MG2",
                                  other_policies={"MG1": lambda obs: (seen.append(obs.shape), np.array([0.3, 0.0, 0.0]))[1]})
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    steps, done = 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        steps += 1
        done = terminated or truncated
    assert steps == 24 and set(info["others"]) == {"MG1", "MG3"} and len(seen) == 24
    assert env.env.generators.p[0] == pytest.approx(0.3)


def test_unknown_agent_raises():
    with pytest.raises(ValueError, match="agent_id 'MG9'"):
        MultiAgentToSingleAgent(MultiAgentMicrogrids(), "MG9")
