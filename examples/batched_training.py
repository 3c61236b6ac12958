"""Batched envs for training: many copies of the default setup stepped in lockstep.

1. Multi-agent: BatchedMicrogrids gives each agent (B, obs_dim) observations and takes
   (B, act_dim) actions, as a MAPPO/IPPO-style trainer wants them.
2. Single-agent: MicrogridsVectorEnv is a Gymnasium VectorEnv (one agent controls all three
   microgrids); here a tiny random-search trainer improves a linear policy
   action = clip(bias + W · obs) with it.
"""
import time

import numpy as np

from powergrid.envs.batched import BatchedMicrogrids, MicrogridsVectorEnv

NUM_ENVS = 64

# 1. per-agent batched arrays
batch = BatchedMicrogrids(NUM_ENVS)
obs, _ = batch.reset(seed=0)
rng = np.random.default_rng(0)
start, steps = time.perf_counter(), 48
for _ in range(steps):
    actions = {a: rng.uniform(batch.action_space(a).low, batch.action_space(a).high, size=(NUM_ENVS, 3))
               for a in batch.possible_agents}
    obs, rewards, terminations, truncations, infos = batch.step(actions)
rate = NUM_ENVS * steps / (time.perf_counter() - start)
print(f"multi-agent batch: obs['MG1'] {obs['MG1'].shape}, rewards['MG1'] {rewards['MG1'].shape}, {rate:,.0f} env-steps/s")


# 2. a Gymnasium VectorEnv and a linear policy improved by random search
env = MicrogridsVectorEnv(NUM_ENVS)
low, high = env.single_action_space.low, env.single_action_space.high
obs_dim, act_dim = env.single_observation_space.shape[0], env.single_action_space.shape[0]


def episode_return(params: tuple[np.ndarray, np.ndarray], seed: int) -> float:
    """Mean return over the batch of one day-long episode with actions = clip(bias + obs @ W)."""
    bias, weights = params
    obs, _ = env.reset(seed=seed)
    total = np.zeros(NUM_ENVS)
    for _ in range(24):
        obs, reward, terminated, truncated, infos = env.step(np.clip(bias + obs @ weights, low, high))
        total += reward
    return float(total.mean())


weights = (0.5 * (low + high), np.zeros((obs_dim, act_dim)))
best = episode_return(weights, seed=1)
print(f"vector env: observations {env.observation_space.shape}, actions {env.action_space.shape}")
print(f"iteration 0: mean return {best:9.1f}")
for iteration in range(1, 4):
    for _ in range(4):
        candidate = (weights[0] + 0.02 * rng.standard_normal(act_dim), weights[1] + 1e-4 * rng.standard_normal((obs_dim, act_dim)))
        score = episode_return(candidate, seed=1)  # the same days every time: a paired comparison
        if score > best:
            weights, best = candidate, score
    print(f"iteration {iteration}: mean return {best:9.1f}")
env.close()
