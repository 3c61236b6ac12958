"""Batched power flow and batched envs: same numbers as the single solver and the single env."""
import copy
import warnings

import numpy as np
import pandapower as pp
import pytest

from powergrid.envs import MultiAgentMicrogrids, MultiAgentToSingleAgent
from powergrid.envs.batched import BatchedMicrogrids, MicrogridsVectorEnv
from powergrid.networks import IEEE13Bus
from powergrid.powerflow import LightSimBackend
from powergrid.setups import many
from powergrid.powerflow.batched import BatchedNewtonBackend
from tests.powergrid.envs.test_multi_agent_microgrids import with_discrete_devices
from tests.powergrid.powerflow.test_powerflow import NETWORKS, with_devices

warnings.filterwarnings("ignore", category=FutureWarning)


# --------------------------------------------------------------------------- power flow
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_batched_newton_matches_lightsim_on_200_random_states(name):
    net = with_devices(NETWORKS[name]())
    pp.create_shunt(net, net.load.bus.iloc[0], q_mvar=-0.02, p_mw=0.0)
    B = 200
    batch, single = BatchedNewtonBackend(copy.deepcopy(net), B), LightSimBackend(copy.deepcopy(net))
    rng = np.random.default_rng(7)
    tapped = net.trafo.tap_step_percent.fillna(0).to_numpy() != 0
    factors = rng.uniform(0.5, 1.5, size=(B, len(net.load)))
    batch.load_p[:] = batch.initial["load_p"] * factors
    batch.load_q[:] = batch.initial["load_q"] * factors
    batch.sgen_p[:] = rng.uniform(0.0, 0.1, size=(B, len(net.sgen)))
    batch.sgen_q[:] = rng.uniform(-0.03, 0.03, size=(B, len(net.sgen)))
    batch.storage_p[:] = rng.uniform(-0.05, 0.05, size=(B, len(net.storage)))
    batch.shunt_q[:] = rng.uniform(-0.1, 0.0, size=(B, len(net.shunt)))
    batch.trafo_tap[:] = batch.initial["trafo_tap"] + np.where(tapped, rng.integers(-4, 5, size=(B, len(net.trafo))), 0)
    result = batch.solve()
    assert result.converged.sum() >= 0.95 * B  # a few tap and load draws have no solution
    for b in range(B):
        for key in batch.INJECTIONS:
            getattr(single, key)[:] = getattr(batch, key)[b]
        ref = single.solve()
        assert ref.converged == result.converged[b]
        if not ref.converged:
            continue
        np.testing.assert_allclose(result.vm_pu[b], ref.vm_pu, atol=1e-7)
        np.testing.assert_allclose(result.va_degree[b], ref.va_degree, atol=1e-5)
        np.testing.assert_allclose(result.line_loading_percent[b], ref.line_loading_percent, atol=1e-4)
        np.testing.assert_allclose(result.trafo_loading_percent[b], ref.trafo_loading_percent, atol=1e-4)
        np.testing.assert_allclose(result.trafo_p_hv_mw[b], ref.trafo_p_hv_mw, atol=1e-7)


def test_each_copy_warm_starts_and_converges_on_its_own():
    batch = BatchedNewtonBackend(IEEE13Bus(), 3)
    batch.solve()
    first = batch.result.vm_pu.copy()
    batch.load_p[1] *= 60.0  # no solution: the kernel fails, then the fallback fails
    batch.load_p[2] *= 1.01
    result = batch.solve()
    assert result.converged.tolist() == [True, False, True]
    assert batch.fallback_solves == 1
    np.testing.assert_array_equal(result.vm_pu[1], first[1])  # the failed copy keeps its last results
    assert batch.iterations[0] <= 1 and batch.iterations[2] <= 3  # warm starts
    batch.load_p[1] /= 60.0
    assert batch.solve(np.array([False, True, False])).converged.all()
    np.testing.assert_allclose(batch.result.vm_pu[1], first[1], atol=1e-9)


def test_fallback_solves_a_copy_the_kernel_gives_up_on():
    batch = BatchedNewtonBackend(IEEE13Bus(), 2, max_iter=1)  # one Newton step is not enough from flat
    result = batch.solve()
    assert result.converged.all() and batch.fallback_solves == 2
    single = LightSimBackend(IEEE13Bus())
    np.testing.assert_allclose(result.vm_pu[0], single.solve().vm_pu, atol=1e-9)


# --------------------------------------------------------------------------- batched env
def single_action(env, agent, flat_row):
    """The single env's form of one agent's flat action (a dict for mixed spaces)."""
    dim_c = env.agent_dict[agent].action.dim_c
    if env.agent_dict[agent].action.dim_d:
        return {"c": flat_row[:dim_c], "d": flat_row[dim_c:]}
    return flat_row


def random_actions(batch, rng, B):
    actions = {}
    for k, agent in enumerate(batch.possible_agents):
        lo, hi = batch.layout.action_offsets[k], batch.layout.action_offsets[k + 1]
        low, high = batch.layout.action_low[lo:hi], batch.layout.action_high[lo:hi]
        value = rng.uniform(low - 0.2 * (high - low), high + 0.2 * (high - low), size=(B, hi - lo))  # some clipped
        positions = batch.layout.discrete_positions
        discrete = positions[(positions >= lo) & (positions < hi)] - lo
        value[:, discrete] = rng.integers(low[discrete], high[discrete] + 1, size=(B, discrete.size))
        actions[agent] = value
    return actions


CONFIGS = {"default": None,
           "discrete, shared reward, test days": {"microgrid_configs": with_discrete_devices(), "share_reward": True,
                                                  "train": False, "max_episode_steps": 10},
           "sweep power flow, six microgrids on a substation": {**many(6), "max_episode_steps": 12}}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_batch_matches_independent_single_envs_across_resets(name):
    B, config, seed = 5, CONFIGS[name], 11  # five: the fused step takes four or more
    batch = BatchedMicrogrids(B, config)
    singles = [MultiAgentMicrogrids(config) for _ in range(B)]
    obs, _ = batch.reset(seed=seed)
    # on the test split copy b plays days b, b + B, ...: each single env is sent to the same days
    day = (lambda b, k: {"day": b + B * k}) if config and not config.get("train", True) else (lambda b, k: None)
    single_obs = [env.reset(seed=seed + b, options=day(b, 0))[0] for b, env in enumerate(singles)]
    episodes = [1] * B
    rng = np.random.default_rng(0)
    resets = 0
    for _ in range(2 * batch.max_episode_steps + 5):
        for b in range(B):
            for agent in batch.possible_agents:
                np.testing.assert_allclose(obs[agent][b], single_obs[b][agent], atol=1e-6)
        actions = random_actions(batch, rng, B)
        obs, rewards, terminations, truncations, infos = batch.step(actions)
        for b, env in enumerate(singles):
            o, r, term, trunc, info = env.step({a: single_action(env, a, actions[a][b]) for a in env.agents})
            for k, agent in enumerate(batch.possible_agents):
                assert rewards[agent][b] == pytest.approx(r[agent], rel=1e-6, abs=1e-6)  # float32 output
                assert infos["cost"][b, k] == pytest.approx(info[agent]["cost"], abs=1e-6)
                assert infos["safety"][b, k] == pytest.approx(info[agent]["safety"], abs=1e-6)
                assert infos["action_clipped"][b, k] == info[agent]["action_clipped"]
                assert truncations[agent][b] == trunc[agent] and not terminations[agent][b]
            assert infos["converged"][b] == info[batch.possible_agents[0]]["converged"]
            if trunc[batch.possible_agents[0]]:
                resets += 1
                assert infos["_final_obs"][b]
                for agent in batch.possible_agents:
                    np.testing.assert_allclose(infos["final_obs"][agent][b], o[agent], atol=1e-6)
                o, _ = env.reset(options=day(b, episodes[b]))
                episodes[b] += 1
            single_obs[b] = o
    assert resets == 2 * B
    assert batch.backend.fallback_solves == 0
    assert type(batch.backend).__name__ == ("BatchedSweepBackend" if "sweep" in name else "BatchedNewtonBackend")


def test_action_formats_agree_and_outputs_are_preallocated_float32():
    B = 2
    batch = BatchedMicrogrids(B)
    rng = np.random.default_rng(1)
    actions = random_actions(batch, rng, B)
    results = []
    for form in (actions, np.stack([actions[a] for a in batch.possible_agents], axis=1),
                 np.concatenate([actions[a] for a in batch.possible_agents], axis=1)):
        batch.reset(seed=3)
        obs, rewards, *_ = batch.step(form)
        results.append((np.concatenate([obs[a] for a in batch.possible_agents], 1).copy(), batch.reward_array.copy()))
        assert obs["MG1"].dtype == np.float32 and rewards["MG1"].dtype == np.float32
        assert np.shares_memory(obs["MG1"], batch.obs_array)
    for other in results[1:]:
        np.testing.assert_array_equal(other[0], results[0][0])
        np.testing.assert_array_equal(other[1], results[0][1])
    assert batch.observation_space("MG1").contains(obs["MG1"][0])


def test_bad_batched_input_names_the_problem():
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        BatchedMicrogrids(0)
    with pytest.raises(ValueError, match="'centralized' must be True"):
        BatchedMicrogrids(2, {"centralized": False})
    with pytest.raises(ValueError, match="unknown config key"):
        BatchedMicrogrids(2, {"nope": 1})
    batch = BatchedMicrogrids(2)
    good = {a: np.zeros((2, 3)) for a in batch.possible_agents}
    with pytest.raises(RuntimeError, match="reset"):
        batch.step(good)
    batch.reset(seed=0)
    with pytest.raises(ValueError, match=r"agent 'MG2': actions have shape \(3,\), expected \(2, 3\)"):
        batch.step({**good, "MG2": np.zeros(3)})
    with pytest.raises(ValueError, match=r"missing \['MG3'\]"):
        batch.step({"MG1": good["MG1"], "MG2": good["MG2"]})
    bad = {**good, "MG3": np.array([[0.0, 0.0, 0.0], [0.0, np.nan, 0.0]])}
    with pytest.raises(ValueError, match=r"copies \[1\], agent\(s\) \['MG3'\]: action contains NaN or inf"):
        batch.step(bad)
    with pytest.raises(ValueError, match=r"expected a dict of \(2, act_dim\) arrays, \(2, 9\) or \(2, 3, 3\)"):
        batch.step(np.zeros((2, 8)))
    with pytest.raises(ValueError, match="seed must be an int or 2 ints"):
        batch.reset(seed=[1, 2, 3])
    discrete = BatchedMicrogrids(1, {"microgrid_configs": with_discrete_devices()})
    discrete.reset(seed=0)
    actions = {a: np.zeros((1, discrete.layout.action_offsets[k + 1] - discrete.layout.action_offsets[k])) for k, a in enumerate(discrete.possible_agents)}
    actions["MG1"][0, -1] = 0.5
    with pytest.raises(ValueError, match="whole numbers"):
        discrete.step(actions)


# --------------------------------------------------------------------------- vector env
def test_vector_env_for_one_microgrid_matches_the_single_agent_wrapper():
    B, seed = 2, 5
    vec = MicrogridsVectorEnv(B, {"max_episode_steps": 6}, agent_id="MG2")
    wrapped = [MultiAgentToSingleAgent(MultiAgentMicrogrids({"max_episode_steps": 6}), "MG2") for _ in range(B)]
    obs, _ = vec.reset(seed=seed)
    single = [w.reset(seed=seed + b)[0] for b, w in enumerate(wrapped)]
    assert vec.observation_space.contains(obs) and obs.shape == (B, 23)
    rng = np.random.default_rng(2)
    for _ in range(14):
        np.testing.assert_allclose(obs, np.stack(single), atol=1e-6)
        actions = vec.action_space.sample() if rng.random() < 0.5 else rng.uniform(-1, 1, size=(B, 3))
        obs, rewards, terminations, truncations, infos = vec.step(actions)
        for b, w in enumerate(wrapped):
            o, r, term, trunc, info = w.step(actions[b])
            assert rewards[b] == pytest.approx(r, rel=1e-6, abs=1e-6)
            assert truncations[b] == trunc and terminations[b] == term
            if trunc:
                np.testing.assert_allclose(infos["final_obs"][b], o, atol=1e-6)
                o, _ = w.reset()
            single[b] = o


def test_vector_env_joint_control_sums_rewards_and_follows_other_policies():
    vec = MicrogridsVectorEnv(4, agent_id=None)
    assert vec.single_action_space.shape == (9,) and vec.single_observation_space.shape == (69,)
    obs, _ = vec.reset(seed=0)
    obs, rewards, *_ = vec.step(np.zeros((4, 9)))
    np.testing.assert_allclose(rewards, vec.batch.reward_array.sum(1), rtol=1e-6)
    assert vec.observation_space.contains(obs)
    with pytest.raises(ValueError, match=r"actions have shape \(4, 3\), expected \(4, 9\)"):
        vec.step(np.zeros((4, 3)))
    calls = []
    led = MicrogridsVectorEnv(2, {"setup": "ieee34_ieee13_simbench"}, agent_id="MG1", other_policies={"MG2": lambda o: calls.append(o.shape) or np.full((2, 3), 0.1)})
    led.reset(seed=0)
    *_, infos = led.step(np.zeros((2, 3)))
    assert calls == [(2, 25)] and infos["delivered_action"][0, 3] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="agent_id 'MG9'"):
        MicrogridsVectorEnv(2, agent_id="MG9")


def test_returned_flags_are_the_callers_to_change():
    """``done = term; done |= trunc`` on what step returned must not corrupt later steps."""
    batch = BatchedMicrogrids(2)
    batch.reset(seed=0)
    zeros = np.zeros((2, 9))
    for _ in range(batch.max_episode_steps):
        _, _, term, trunc, _ = batch.step(zeros)
        done = term["MG1"]
        done |= trunc["MG1"]
    assert done.all()
    _, _, term, trunc, _ = batch.step(zeros)
    assert not term["MG1"].any() and not trunc["MG1"].any()


def test_test_split_copies_spread_over_consecutive_days_and_take_days_of_their_own():
    batch = BatchedMicrogrids(3, {"train": False})
    batch.reset(seed=0)
    assert (batch.core.start_hour // 24).tolist() == [0, 1, 2]  # not every copy on the same day
    for _ in range(batch.max_episode_steps):
        batch.step(np.zeros((3, 9)))
    assert (batch.core.start_hour // 24).tolist() == [3, 4, 5]  # the next days, after the autoreset
    batch.reset(options={"day": [7, 3, 4]})
    assert (batch.core.start_hour // 24).tolist() == [7, 3, 4]
    batch.reset(options={"day": 5})
    assert (batch.core.start_hour // 24).tolist() == [5, 5, 5]
    with pytest.raises(ValueError, match=r"options\['day'\] must be one day or 3 days"):
        batch.reset(options={"day": [1, 2]})
    with pytest.raises(ValueError, match=r"options\['day'\] must be in \[0, "):
        batch.reset(options={"day": [1, 2, -1]})


@pytest.mark.parametrize("day", [1.5, True, "3"])
def test_a_day_that_is_not_a_whole_number_is_named(day):
    env = MultiAgentMicrogrids({"train": False})
    with pytest.raises(ValueError, match=r"options\['day'\] must be a whole number"):
        env.reset(options={"day": day})


@pytest.mark.parametrize("backend, kernel", [("lightsim2grid", "BatchedNewtonBackend"), ("newton", "BatchedNewtonBackend"),
                                             ("sweep", "BatchedSweepBackend")])
def test_a_batch_hands_what_its_kernel_gives_up_on_to_lightsim2grid(backend, kernel):
    """Not to a one-copy backend on the same kernel, which would fail on the same copy first."""
    batch = BatchedMicrogrids(2, {"power_flow_backend": backend})
    assert type(batch.backend).__name__ == kernel and isinstance(batch.backend.fallback, LightSimBackend)
