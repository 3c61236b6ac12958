"""The batched env in the trainers researchers use: SB3's VecEnv, Gymnasium's vector wrappers."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

from powergrid.envs.batched import MicrogridsVectorEnv

SETUP = {"setup": "ieee34_ieee13", "max_episode_steps": 4}


def test_next_step_autoreset_is_gymnasiums():
    same = MicrogridsVectorEnv(3, SETUP)
    nxt = MicrogridsVectorEnv(3, SETUP, autoreset_mode="next_step")
    assert nxt.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP and same.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    a, _ = same.reset(seed=1)
    b, _ = nxt.reset(seed=1)
    np.testing.assert_array_equal(a, b)
    act = np.zeros((3, 9), np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(same.step(act)[0], nxt.step(act)[0])
    obs_s, rew_s, _, trunc_s, info_s = same.step(act)
    obs_n, rew_n, _, trunc_n, info_n = nxt.step(act)
    assert trunc_s.all() and trunc_n.all() and "final_obs" not in info_n
    np.testing.assert_array_equal(obs_n, info_s["final_obs"])  # the episode's last observation...
    np.testing.assert_array_equal(rew_n, rew_s)
    first, rew, term, trunc, _ = nxt.step(np.full((3, 9), np.nan, np.float32))  # ... then, ignoring the actions, the next's first
    np.testing.assert_array_equal(first, obs_s)
    assert not rew.any() and not term.any() and not trunc.any()
    with pytest.raises(ValueError, match="autoreset_mode"):
        MicrogridsVectorEnv(2, SETUP, autoreset_mode="sometimes")


def test_gymnasiums_stateful_vector_wrappers_run():
    env = RecordEpisodeStatistics(NormalizeObservation(MicrogridsVectorEnv(4, SETUP, autoreset_mode=AutoresetMode.NEXT_STEP)))
    obs, _ = env.reset(seed=0)
    episodes = 0
    for _ in range(10):
        obs, _, _, _, infos = env.step(env.action_space.sample())
        episodes += int(infos.get("_episode", np.zeros(4, bool)).sum())
        assert np.isfinite(obs).all()
    assert episodes == 8  # two episodes of 4 steps per copy in 10 steps (one restart step each)


def test_stable_baselines3_vec_env_protocol():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env  # noqa: F401  (SB3 importable)
    from stable_baselines3.common.vec_env import VecMonitor, VecNormalize

    from powergrid.envs.sb3 import MicrogridsVecEnv

    venv = MicrogridsVecEnv(3, SETUP)
    venv.seed(7)
    first = venv.reset()
    assert first.shape == (3,) + venv.observation_space.shape
    again = MicrogridsVecEnv(3, SETUP)
    again.seed(7)
    np.testing.assert_array_equal(again.reset(), first)  # seeds apply at the next reset
    for t in range(4):
        obs, rewards, dones, infos = venv.step(np.zeros((3,) + venv.action_space.shape, np.float32))
        assert rewards.dtype == np.float32 and len(infos) == 3 and set(infos[0]) >= {"cost", "safety"}
    assert dones.all() and all(i["TimeLimit.truncated"] for i in infos)
    assert infos[0]["terminal_observation"].shape == venv.observation_space.shape
    assert not np.array_equal(infos[0]["terminal_observation"], obs[0])  # obs is the next episode's first
    assert venv.get_attr("max_episode_steps") == [4, 4, 4]
    assert venv.env_method("action_space", "MG1", indices=[0])[0].shape == (3,)
    assert venv.env_is_wrapped(gym.Wrapper) == [False] * 3
    with pytest.raises(ValueError, match="share one env"):
        venv.set_attr("max_episode_steps", 8, indices=[0])
    wrapped = VecNormalize(VecMonitor(MicrogridsVecEnv(2, SETUP)))
    wrapped.reset()
    for _ in range(8):
        _, _, dones, infos = wrapped.step(np.zeros((2, 9), np.float32))
    assert "episode" in infos[0]


@pytest.mark.slow
def test_stable_baselines3_ppo_trains_on_64_copies():
    pytest.importorskip("stable_baselines3")
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecMonitor

    from powergrid.envs.sb3 import MicrogridsVecEnv

    torch.set_num_threads(1)
    venv = VecMonitor(MicrogridsVecEnv(64, {"setup": "ieee34_ieee13_simbench"}))
    model = PPO("MlpPolicy", venv, n_steps=24, batch_size=384, n_epochs=2, seed=0, device="cpu")
    model.learn(64 * 24 * 3)
    assert model.num_timesteps >= 64 * 24 * 3
    mean, _ = evaluate_policy(model, venv, n_eval_episodes=64)
    assert np.isfinite(mean)


def test_factories_and_gymnasium_registration():
    import gymnasium
    from pettingzoo.test import api_test

    import powergrid.envs as envs

    par = envs.parallel_env("ieee34_ieee13", max_episode_steps=6)
    assert par.max_episode_steps == 6 and par.config["share_reward"]
    api_test(envs.env("ieee34_ieee13_simbench", max_episode_steps=4), num_cycles=6)
    single = gymnasium.make(envs.SINGLE_AGENT_ID, agent_id="MG2", setup="ieee34_ieee13", max_episode_steps=3)
    obs, _ = single.reset(seed=0)
    assert single.observation_space.contains(obs) or obs.shape == single.observation_space.shape
    for _ in range(3):
        obs, reward, terminated, truncated, info = single.step(single.action_space.sample())
    assert truncated and not terminated and "others" in info
    with pytest.raises(ValueError, match="agent_id"):
        gymnasium.make(envs.SINGLE_AGENT_ID, agent_id="MG9")


def test_state_before_reset_says_so():
    from powergrid.envs import MultiAgentMicrogrids

    env = MultiAgentMicrogrids({})
    with pytest.raises(RuntimeError, match="call reset"):
        env.state()
    env.reset(seed=0)
    assert env.state().shape == env.state_space.shape


def test_shared_spaces_let_supersuit_stack_the_default_setups_microgrids():
    ss = pytest.importorskip("supersuit")
    from powergrid.envs import MultiAgentMicrogrids
    from powergrid.envs.sharing import SharedSpaces

    raw = MultiAgentMicrogrids({"max_episode_steps": 4})
    shared = SharedSpaces(MultiAgentMicrogrids({"max_episode_steps": 4}))
    assert all(shared.observation_space(a) == shared.observation_space("MG1") for a in shared.possible_agents)
    assert all(shared.action_space(a) == shared.action_space("MG1") for a in shared.possible_agents)
    assert np.isfinite(shared.observation_space("MG1").low).all() and np.isfinite(shared.observation_space("MG1").high).all()
    obs, _ = shared.reset(seed=0)
    raw.reset(seed=0)
    np.testing.assert_array_equal(obs["MG2"][-3:], [0, 1, 0])  # who is who
    full = {a: np.ones(3, np.float32) for a in shared.agents}
    obs, _, _, _, infos = shared.step(full)
    _, _, _, _, want = raw.step({a: raw.action_space(a).high for a in raw.agents})  # +1 is each device's top
    for a in raw.possible_agents:
        np.testing.assert_allclose(infos[a]["delivered_action"], want[a]["delivered_action"])
        assert shared.observation_space(a).contains(obs[a])
    with pytest.raises(ValueError, match="expected"):
        shared.step({"MG1": np.zeros(2)})
    vec = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(ss.normalize_obs_v0(SharedSpaces(MultiAgentMicrogrids({"max_episode_steps": 4})))),
                                2, num_cpus=0, base_class="gymnasium")
    try:
        stacked, _ = vec.reset(seed=0)
        assert stacked.shape == (6, shared.observation_space("MG1").shape[0])
        assert stacked.min() >= 0.0 and stacked.max() <= 1.0  # normalize_obs_v0 rescales the finite bounds to [0, 1]
        stacked, rewards, *_ = vec.step(np.zeros((6, 3), np.float32))
        assert rewards.shape == (6,)
    finally:
        vec.close()


def test_render_draws_the_network():
    import copy

    import powergrid.envs as envs

    env = envs.parallel_env("ieee34_ieee13", render_mode="rgb_array", max_episode_steps=3)
    with pytest.raises(RuntimeError, match="reset"):
        env.render()
    env.reset(seed=0)
    first = env.render()
    assert first.ndim == 3 and first.shape[2] == 3 and first.dtype == np.uint8 and first.std() > 0
    env.step({a: env.action_space(a).high for a in env.agents})
    assert env.render().shape == first.shape
    with pytest.raises(ValueError, match="render_mode"):
        envs.parallel_env("ieee34_ieee13", render_mode="movie")
    with pytest.raises(ValueError, match="needs render_mode"):
        envs.parallel_env("ieee34_ieee13").render()
    assert copy.deepcopy(env).render().shape == first.shape  # a copy draws its own


def test_render_records_video(tmp_path):
    import gymnasium
    from gymnasium.wrappers import RecordVideo

    import powergrid.envs as envs

    single = RecordVideo(gymnasium.make(envs.SINGLE_AGENT_ID, render_mode="rgb_array", max_episode_steps=2), str(tmp_path))
    single.reset(seed=0)
    for _ in range(2):
        single.step(single.action_space.sample())
    single.close()
    assert list(tmp_path.glob("*.mp4"))
