"""Playing an episode: by a controller that sees the observations, or by a fixed schedule."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["Controller", "play_day", "play_schedule"]

Controller = Callable[[int, Mapping[str, np.ndarray]], Mapping[str, Any]]  # (step, observations) -> actions


def play_day(env: NetworkedGridEnv, day: int, controller: Controller) -> tuple[float, float, float]:
    """One episode from ``day``: the return, cost and safety summed over steps and agents."""
    obs, _ = env.reset(options={"day": day})
    totals = np.zeros(3)
    step = 0
    while env.agents:
        obs, rewards, _, _, infos = env.step(controller(step, obs))
        totals += [sum(rewards.values()), sum(i["cost"] for i in infos.values()), sum(i["safety"] for i in infos.values())]
        step += 1
    return tuple(totals.tolist())


def play_schedule(env: NetworkedGridEnv, day: int, schedule: np.ndarray,
                  before_step: Callable[[int], None] | None = None) -> tuple[float, float, float]:
    """The return, cost and safety (summed over steps and agents) of playing ``schedule``, one flat action (all agents'
    actions side by side) per step, ``(T, D)``, from ``day``; ``before_step(step)`` is called
    before each step (e.g. to record the env's state)."""
    offsets, agents = env.layout.action_offsets, env.possible_agents
    schedule = np.asarray(schedule, dtype=float)

    def controller(step: int, obs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if before_step is not None:
            before_step(step)
        row = schedule[step]
        return {a: row[offsets[k]:offsets[k + 1]] for k, a in enumerate(agents)}

    return play_day(env, day, controller)
