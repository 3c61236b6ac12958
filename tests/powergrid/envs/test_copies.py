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


def test_a_batch_copy_steps_exactly_as_the_original():
    from powergrid.envs.batched import BatchedMicrogrids

    batch = BatchedMicrogrids(3)
    batch.reset(seed=0)
    twin = copy.deepcopy(batch)
    rng = np.random.default_rng(1)
    for _ in range(30):
        joint = rng.uniform(-0.3, 0.3, (3, 9))
        o1, r1, *_ = batch.step(joint)
        o2, r2, *_ = twin.step(joint)
        for a in batch.possible_agents:
            np.testing.assert_allclose(o1[a], o2[a], atol=1e-6)
            np.testing.assert_allclose(r1[a], r2[a], atol=1e-6)
    assert twin.observations["MG1"].base is twin.obs_array  # views of its own buffers


@pytest.mark.slow
def test_single_agent_views_run_in_subprocesses():
    import gymnasium as gym

    from powergrid.envs import MultiAgentToSingleAgent

    def make():
        return MultiAgentToSingleAgent(MultiAgentMicrogrids(), "MG1")

    vec = gym.vector.AsyncVectorEnv([make, make])
    try:
        obs, _ = vec.reset(seed=0)
        obs, rewards, *_ = vec.step(np.zeros((2, 3), np.float32))
        assert obs.shape == (2, 23) and np.all(np.isfinite(rewards))
    finally:
        vec.close()
    twin = copy.deepcopy(make())
    twin.reset(seed=0)
    twin.step(np.zeros(3))


def _lockstep(vec, reference, actions_of, controlled=None, steps=30):
    """Step a vector env whose copies all play the reference env's days, and the reference,
    with the same actions (agents not ``controlled`` hold zero); yields both rewards."""
    rng = np.random.default_rng(5)
    for _ in range(steps):
        if not reference.agents:
            reference.reset()
        actions = {a: rng.uniform(reference.action_space(a).low, reference.action_space(a).high).astype(np.float32)
                   if controlled in (None, a) else np.zeros(3, np.float32) for a in reference.possible_agents}
        _, want, *_ = reference.step(actions)
        got = vec.step(actions_of(actions))[1]
        yield got, want


@pytest.mark.parametrize("num_cpus", [0, 2], ids=["in_process", "subprocesses"])
def test_supersuit_vector_wrappers_step_the_same_physics(num_cpus):
    ss = pytest.importorskip("supersuit")
    # every copy plays the test days in order, as the reference does; SuperSuit needs agents with
    # equal spaces (the default setup's microgrids differ in their ratings)
    config = {"train": False, "setup": "ieee34_ieee13_simbench"}
    vec = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(MultiAgentMicrogrids(config)), 2, num_cpus=num_cpus,
                                base_class="gymnasium")
    reference = MultiAgentMicrogrids(config)
    try:
        vec.reset(seed=0)
        reference.reset(seed=0)
        agents = reference.possible_agents
        for got, want in _lockstep(vec, reference, lambda acts: np.tile(np.stack([acts[a] for a in agents]), (2, 1))):
            np.testing.assert_allclose(got, np.tile([want[a] for a in agents], 2), rtol=1e-5, atol=1e-5)
    finally:
        vec.close()


@pytest.mark.slow
def test_stable_baselines3_subproc_vec_env_with_env_objects():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from powergrid.envs import MultiAgentToSingleAgent

    config = {"train": False}
    env = MultiAgentToSingleAgent(MultiAgentMicrogrids(config), "MG1")
    vec = SubprocVecEnv([lambda: env, lambda: env])  # the env object itself is pickled into each worker
    reference = MultiAgentMicrogrids(config)
    try:
        vec.seed(0)
        vec.reset()
        reference.reset(seed=0)
        # the view's other agents hold zero, as the reference's do
        for got, want in _lockstep(vec, reference, lambda acts: np.tile(acts["MG1"], (2, 1)), controlled="MG1"):
            np.testing.assert_allclose(got, [want["MG1"]] * 2, rtol=1e-5, atol=1e-5)
    finally:
        vec.close()
