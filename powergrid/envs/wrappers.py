"""Wrappers: a single microgrid of a multi-agent env as a Gymnasium env (for SB3 and friends)."""
from __future__ import annotations

from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np

from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["MultiAgentToSingleAgent"]

OtherPolicy = Callable[[np.ndarray], Any]


class MultiAgentToSingleAgent(gym.Env):
    """Control ``agent_id``; every other agent follows ``other_policies[agent]`` (a function of
    its observation) or, by default, holds the zero action clipped into its space.

    Episodes end when the wrapped env truncates; ``info`` is the controlled agent's info plus
    ``'others'`` (the other agents' rewards).
    """

    metadata = {"render_modes": ["rgb_array", "human"]}

    def __init__(self, env: NetworkedGridEnv, agent_id: str, other_policies: Mapping[str, OtherPolicy] | None = None) -> None:
        if agent_id not in env.possible_agents:
            raise ValueError(f"agent_id {agent_id!r} is not an agent of the env; agents: {env.possible_agents}")
        unknown = sorted(set(other_policies or {}) - set(env.possible_agents) - {agent_id})
        if unknown:
            raise ValueError(f"other_policies names unknown agents {unknown}; agents: {env.possible_agents}")
        self.env, self.agent_id = env, agent_id
        self.render_mode = env.render_mode
        self.other_policies = dict(other_policies or {})
        self.action_space = env.action_space(agent_id)
        self.observation_space = env.observation_space(agent_id)
        self._hold = {a: np.clip(np.zeros(env.action_space(a).shape), env.action_space(a).low, env.action_space(a).high)
                      for a in env.possible_agents}
        self._obs: dict[str, np.ndarray] = {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._obs, infos = self.env.reset(seed=seed, options=options)
        return self._obs[self.agent_id], infos[self.agent_id]

    def step(self, action: Any):
        actions = {a: (self.other_policies[a](self._obs[a]) if a in self.other_policies else self._hold[a])
                   for a in self.env.agents if a != self.agent_id}
        actions[self.agent_id] = action
        self._obs, rewards, terminations, truncations, infos = self.env.step(actions)
        info = dict(infos[self.agent_id])
        info["others"] = {a: r for a, r in rewards.items() if a != self.agent_id}
        return (self._obs[self.agent_id], rewards[self.agent_id], terminations[self.agent_id],
                truncations[self.agent_id], info)

    def render(self) -> Any:
        """The wrapped env's picture (its ``render_mode``)."""
        return self.env.render()

    def close(self) -> None:
        self.env.close()
