"""Batched env: B copies of the default setup per step, B = 1 ... 1024, beside the single env.

Targets: at B = 256, >= 50,000 env-steps/s on one core and >= 10x the single-env loop of the
same run; step time at most linear in B up to 1024; memory at B = 1024 <= 200 MB. The figure
to read is ``extra_info['env_steps_per_s_median']`` (B / median step time);
``benchmarks/compare.py`` prints them side by side with the ratios. From four copies the batch
takes the fused step (one kernel call a step); ``test_fused_against_numpy_stages`` times it
beside the step core's numpy functions around the same kernel.
"""
import tracemalloc

import numpy as np
import pytest

from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.batched import BatchedMicrogrids

SIZES = [1, 4, 16, 64, 256, 1024]


def batch_actions(batch, seed=0):
    rng = np.random.default_rng(seed)
    return {a: rng.uniform(batch.action_space(a).low, batch.action_space(a).high, size=(batch.num_envs, batch.action_space(a).shape[0]))
            for a in batch.possible_agents}


@pytest.mark.benchmark(group="powergrid: env steps, single vs batched")
def test_single_env_loop(benchmark):
    env = MultiAgentMicrogrids()
    env.reset(seed=0)
    batch_of_one = batch_actions(BatchedMicrogrids(1))
    actions = {a: v[0] for a, v in batch_of_one.items()}

    def step():
        if not env.agents:
            env.reset()
        env.step(actions)

    benchmark.pedantic(step, rounds=2000, warmup_rounds=50)
    benchmark.extra_info["env_steps_per_s_median"] = 1.0 / benchmark.stats.stats.median


@pytest.mark.benchmark(group="powergrid: env steps, single vs batched")
@pytest.mark.parametrize("num_envs", SIZES)
def test_batched_step(benchmark, num_envs):
    batch = BatchedMicrogrids(num_envs)
    batch.reset(seed=0)
    actions = batch_actions(batch)
    benchmark.pedantic(batch.step, args=(actions,), rounds=max(20, 20000 // num_envs), warmup_rounds=5)
    median = benchmark.stats.stats.median
    benchmark.extra_info["env_steps_per_s_median"] = num_envs / median
    benchmark.extra_info["us_per_env_step_median"] = median / num_envs * 1e6
    assert batch.backend.fallback_solves == 0


@pytest.mark.benchmark(group="powergrid: fused step vs numpy stages, B = 256")
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "numpy stages"])
def test_fused_against_numpy_stages(benchmark, fused):
    batch = BatchedMicrogrids(256, fused=fused)
    batch.reset(seed=0)
    actions = batch_actions(batch)
    benchmark.pedantic(batch.step, args=(actions,), rounds=100, warmup_rounds=5)
    benchmark.extra_info["env_steps_per_s_median"] = 256 / benchmark.stats.stats.median
    assert batch.fused == fused


@pytest.mark.benchmark(group="powergrid: batched memory")
def test_memory_at_1024_copies(benchmark):
    """Peak memory traced while building a 1024-copy batch and stepping it (numpy and Python
    allocations; the shared network model and imports are not counted)."""
    peaks = []

    def build_and_run():
        tracemalloc.start()
        batch = BatchedMicrogrids(1024)
        batch.reset(seed=0)
        actions = batch_actions(batch)
        for _ in range(30):
            batch.step(actions)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()

    benchmark.pedantic(build_and_run, rounds=1, warmup_rounds=0)
    benchmark.extra_info["peak_mb"] = peaks[0] / 2**20
    assert peaks[0] <= 200 * 2**20
