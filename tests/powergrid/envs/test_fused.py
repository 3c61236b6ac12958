"""The fused batched step (one kernel call a step) against the step core's numpy functions."""
import numpy as np
import pytest

from powergrid.envs.batched import BatchedMicrogrids
from powergrid.setups import many
from tests.powergrid.envs.test_batched import random_actions
from tests.powergrid.envs.test_multi_agent_microgrids import with_discrete_devices

CONFIGS = {"default": None,
           "discrete devices, shared reward, test days": {"microgrid_configs": with_discrete_devices(), "share_reward": True,
                                                          "train": False, "max_episode_steps": 10},
           "renewables, a stored-energy value": {"setup": "ieee34_ieee13_simbench", "max_episode_steps": 12,
                                                 "stored_energy_value": 40.0}}
INFOS = ("cost", "safety", "converged", "action_clipped", "action_limited", "delivered_action", "stored_energy_credit")


def run_both(config, B: int, steps: int, seed: int = 5, give_up: bool = False):
    """The same random actions through a fused and an unfused batch; yields both after each step."""
    fused, numpy = BatchedMicrogrids(B, config, fused=True), BatchedMicrogrids(B, config, fused=False)
    assert fused.fused and not numpy.fused
    for batch in (fused, numpy):
        batch.reset(seed=seed)
        if give_up:  # one Newton step is rarely enough: most copies go to the fallback, then on
            batch.backend.max_iter = 1
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        actions = random_actions(fused, rng, B)
        yield fused, fused.step(actions), numpy, numpy.step(actions)


def assert_same_step(fused_out, numpy_out):
    (obs_f, rew_f, term_f, trunc_f, info_f), (obs_n, rew_n, term_n, trunc_n, info_n) = fused_out, numpy_out
    for agent in obs_f:
        np.testing.assert_allclose(obs_f[agent], obs_n[agent], rtol=1e-6, atol=1e-7)  # float32 out
        np.testing.assert_allclose(rew_f[agent], rew_n[agent], rtol=1e-6, atol=1e-7)
        assert (term_f[agent] == term_n[agent]).all() and (trunc_f[agent] == trunc_n[agent]).all()
    assert set(info_f) == set(info_n)
    for key in INFOS:
        np.testing.assert_allclose(info_f[key], info_n[key], rtol=1e-12, atol=1e-12, err_msg=key)
    if "final_obs" in info_n:
        for agent in obs_f:
            np.testing.assert_allclose(info_f["final_obs"][agent], info_n["final_obs"][agent], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_fused_step_equals_the_numpy_step_across_episodes(name):
    config, B = CONFIGS[name], 6
    steps = 2 * BatchedMicrogrids(4, config, fused=False).max_episode_steps + 3
    clipped = limited = unsafe = 0
    for fused, fused_out, numpy, numpy_out in run_both(config, B, steps):
        assert_same_step(fused_out, numpy_out)
        clipped += fused_out[-1]["action_clipped"].sum()
        limited += fused_out[-1]["action_limited"].sum()
        unsafe += fused_out[-1]["safety"].sum()
        for kind, fleet in fused.core.fleets.items():  # the state the next step starts from
            for key in fleet.STATE:
                np.testing.assert_allclose(getattr(fleet, key), getattr(numpy.core.fleets[kind], key), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(fused.core.discrete, numpy.core.discrete)
        np.testing.assert_array_equal(fused.backend.trafo_tap, numpy.backend.trafo_tap)
        np.testing.assert_array_equal(fused.core.t, numpy.core.t)
    assert clipped and limited  # both flags were exercised
    assert unsafe > 0 or "discrete" not in name  # the tap changer takes voltages out of bounds


def test_the_fused_step_hands_a_copy_the_kernel_gives_up_on_to_the_fallback():
    for fused, fused_out, numpy, _numpy_out in run_both(None, 5, 6, give_up=True):
        assert_same_step(fused_out, _numpy_out)
        assert fused_out[-1]["converged"].all()
    assert fused.backend.fallback_solves > 0 and fused.backend.fallback_solves == numpy.backend.fallback_solves


def test_setups_the_fused_kernel_does_not_cover_take_the_numpy_step():
    assert BatchedMicrogrids(4).fused
    assert not BatchedMicrogrids(3).fused  # fewer copies than the kernel's lanes
    assert not BatchedMicrogrids(4, {**many(6), "max_episode_steps": 12}).fused  # the sweep
    assert not BatchedMicrogrids(4, fused=False).fused
    with pytest.raises(ValueError, match="fused=True, but this setup cannot take the fused step: its power flow is 'sweep-batched'"):
        BatchedMicrogrids(4, {**many(6), "max_episode_steps": 12}, fused=True)
    with pytest.raises(ValueError, match="fewer than 4 copies"):
        BatchedMicrogrids(2, fused=True)
