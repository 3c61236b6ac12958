"""One policy for every microgrid: the same action and observation spaces for all agents.

A shared policy (parameter sharing: SuperSuit's ``pettingzoo_env_to_vec_env_v1`` and
``concat_vec_envs_v1``, RLlib's one policy for all agents) needs every agent to have the same
spaces. The default setup's microgrids differ in their ratings, so :class:`SharedSpaces`
gives each agent

- actions in [-1, 1]: entry ``i`` of an agent's action is scaled onto its device's range,
  ``low + (u + 1) / 2 · (high - low)`` (entries beyond an agent's own are ignored);
- observations padded with zeros to the longest, on the union of the agents' (finite) bounds,
  and, with ``agent_id=True``, a one-hot of the agent's index after them, so the policy knows
  whom it drives.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["SharedSpaces"]


class SharedSpaces(ParallelEnv):
    """``env`` with one action space and one observation space for every agent (module doc)."""

    def __init__(self, env: NetworkedGridEnv, agent_id: bool = True) -> None:
        boxes = {a: env.action_space(a) for a in env.possible_agents}
        refused = [a for a, space in boxes.items() if not isinstance(space, spaces.Box)]
        if refused:
            raise ValueError(f"SharedSpaces scales continuous (Box) actions; agents {refused} have discrete parts "
                             "(tap changers, capacitor banks)")
        self.env, self.with_id = env, bool(agent_id)
        self.possible_agents = list(env.possible_agents)
        self.metadata, self.render_mode = env.metadata, None
        n = len(self.possible_agents)
        self._low = {a: b.low.astype(np.float64) for a, b in boxes.items()}
        self._span = {a: (b.high - b.low).astype(np.float64) for a, b in boxes.items()}
        width = max(b.shape[0] for b in boxes.values())
        self._action_space = spaces.Box(-1.0, 1.0, shape=(width,), dtype=np.float32)
        observed = [env.observation_space(a) for a in self.possible_agents]
        length = max(o.shape[0] for o in observed)
        pad = lambda x: np.concatenate([x, np.zeros(length - x.size, np.float32)])  # noqa: E731
        low = np.min([pad(o.low) for o in observed], axis=0)
        high = np.max([pad(o.high) for o in observed], axis=0)
        if self.with_id:
            low, high = np.concatenate([low, np.zeros(n, np.float32)]), np.concatenate([high, np.ones(n, np.float32)])
        self._observation_space = spaces.Box(low, high, dtype=np.float32)
        self._length = length
        self._buffers = {a: np.zeros(low.size, np.float32) for a in self.possible_agents}
        for k, a in enumerate(self.possible_agents):
            if self.with_id:
                self._buffers[a][length + k] = 1.0

    @property
    def agents(self) -> list[str]:
        return self.env.agents

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Box:
        return self._action_space

    def reset(self, seed: int | None = None, options: Mapping[str, Any] | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        return self._observations(obs), infos

    def step(self, actions: Mapping[str, Any]):
        scaled = {}
        for a, u in actions.items():
            if a not in self._low:
                raise ValueError(f"unknown agent {a!r}; agents: {self.possible_agents}")
            u = np.asarray(u, dtype=np.float64).ravel()
            if u.shape != self._action_space.shape:
                raise ValueError(f"{a}'s action has shape {u.shape}, expected {self._action_space.shape} in [-1, 1]")
            k = self._low[a].size
            scaled[a] = self._low[a] + 0.5 * (np.clip(u[:k], -1.0, 1.0) + 1.0) * self._span[a]
            if not np.isfinite(u[:k]).all():
                scaled[a] = u[:k]  # the env names the NaN or infinite entries
        obs, rewards, terminations, truncations, infos = self.env.step(scaled)
        return self._observations(obs), rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return self.env.state()

    def close(self) -> None:
        self.env.close()

    def _observations(self, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for a, o in obs.items():
            buffer = self._buffers[a].copy()
            buffer[:o.size] = o
            out[a] = buffer
        return out
