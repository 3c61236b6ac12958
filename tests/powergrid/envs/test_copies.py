"""Copies of an env compute the same physics as the original (deepcopy and pickle)."""
import copy
import pickle

import numpy as np
import pytest

from powergrid.envs import MultiAgentMicrogrids


def run(env, steps, seed=3):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        if not env.agents:
            env.reset()
        actions = {a: rng.uniform(env.action_space(a).low, env.action_space(a).high) for a in env.agents}
        obs, rewards, *_ = env.step(actions)
        out.append((rewards, obs))
    return out


@pytest.mark.parametrize("centralized", [True, False])
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_steps_exactly_as_the_original(centralized, how):
    env = MultiAgentMicrogrids({"centralized": centralized})
    env.reset(seed=0)
    run(env, 5)
    twin = copy.deepcopy(env) if how == "deepcopy" else pickle.loads(pickle.dumps(env))
    assert twin.env_id == env.env_id and twin.message_broker is not env.message_broker
    for (r1, o1), (r2, o2) in zip(run(env, 100), run(twin, 100)):
        for a in r1:
            assert r1[a] == pytest.approx(r2[a], abs=1e-9)
            np.testing.assert_allclose(o1[a], o2[a], atol=1e-6)


def test_envs_have_a_render_mode_for_vector_wrappers():
    assert MultiAgentMicrogrids().render_mode is None
