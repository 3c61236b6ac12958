"""The baselines' table: each baseline played on the same test days of one setup."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from heron.core.policies import RandomPolicy
from powergrid.agents.policies import RuleBasedPolicy
from powergrid.baselines.optimum import plan_day
from powergrid.baselines.play import Controller, play_day
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.envs.networked_grid_env import NetworkedGridEnv
from powergrid.setups import load_setup

__all__ = ["BASELINES", "REFERENCE", "BaselineResult", "controllers", "run_baselines", "task_config", "do_nothing"]

BASELINES = ("random", "zero", "do-nothing", "rule-based", "optimum")
REFERENCE = "do-nothing"  # the lower end of the normalised score
DEFAULT_SETUP = "ieee34_ieee13"


@dataclass
class BaselineResult:
    """Per test day: the episode's return, cost and safety, summed over steps and agents."""

    name: str
    returns: np.ndarray
    costs: np.ndarray
    safety: np.ndarray

    def mean(self) -> dict[str, float]:
        return {"return": float(self.returns.mean()), "cost": float(self.costs.mean()), "safety": float(self.safety.mean())}


def task_config(setup: str | None = None, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The config of the task a user trains on with ``load_setup(setup)`` (its episode length,
    reward sharing and penalty), ``config`` merged over it, on the test split, centralized.
    ``setup`` defaults to ``config['setup']``, else the default setup."""
    config = dict(config or {})
    setup = setup or config.get("setup") or DEFAULT_SETUP
    return {**load_setup(setup), **config, "train": False, "centralized": True}


def do_nothing(env: NetworkedGridEnv) -> dict[str, np.ndarray]:
    """The truly passive action: solar and wind deliver what the weather gives (they are
    commanded their rating; the env delivers the hour's available power), dispatchable
    generators idle at p_min, no reactive power, storage idle."""
    g = env.generators
    weather = env.core.model.follows_weather("generator")
    p = np.where(weather, np.minimum(g.p_max, g.s_max), g.p_min)
    return env.actions_from_setpoints(p, np.zeros(g.size), np.zeros(env.storage.size))


def controllers(env: NetworkedGridEnv, planner: NetworkedGridEnv, seed: int = 0) -> dict[str, Callable[[int], Controller]]:
    """For each baseline, a function of the day returning that day's controller for ``env``
    (``planner``: an env of the same config the optimum plans in)."""
    def random(day: int) -> Controller:
        policies = {a: RandomPolicy(env.action_space(a), seed=seed + 1000 * day + k) for k, a in enumerate(env.possible_agents)}
        return lambda step, obs: {a: policies[a](obs[a]) for a in obs}

    def zero(day: int) -> Controller:
        nothing = {a: np.zeros(env.action_space(a).shape) for a in env.possible_agents}
        return lambda step, obs: nothing

    def passive(day: int) -> Controller:
        actions = do_nothing(env)
        return lambda step, obs: actions

    def rule_based(day: int) -> Controller:
        policies = {a: RuleBasedPolicy(agent) for a, agent in env.agent_dict.items()}
        return lambda step, obs: {a: policies[a](obs[a]) for a in obs}

    def optimum(day: int) -> Controller:
        planner.reset(options={"day": day})
        actions = plan_day(planner).actions(planner)
        offsets = env.layout.action_offsets
        return lambda step, obs: {a: actions[step][offsets[k]:offsets[k + 1]] for k, a in enumerate(env.possible_agents)}

    return {"random": random, "zero": zero, "do-nothing": passive, "rule-based": rule_based, "optimum": optimum}


def run_baselines(days: int = 20, config: Mapping[str, Any] | None = None, seed: int = 0,
                  names: tuple[str, ...] = BASELINES, progress: Callable[[str, int], None] | None = None,
                  setup: str | None = None) -> dict[str, BaselineResult]:
    """Each baseline on test days ``0 .. days - 1`` of the task :func:`task_config` describes
    (``MultiAgentMicrogrids``, centralized). ``progress(name, day)`` is called after each
    episode."""
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
        raise ValueError(f"days must be a positive integer, got {days!r}")
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; baselines: {list(BASELINES)}")
    config = task_config(setup, config)
    env, planner = MultiAgentMicrogrids(config), MultiAgentMicrogrids(config)
    available = env.core.days()
    if days > available:
        raise ValueError(f"days is {days}, but the test split has {available} episodes of {env.max_episode_steps} steps")
    by_name = controllers(env, planner, seed)
    results = {}
    for name in names:
        totals = np.zeros((days, 3))
        for day in range(days):
            totals[day] = play_day(env, day, by_name[name](day))
            if progress is not None:
                progress(name, day)
        results[name] = BaselineResult(name, totals[:, 0], totals[:, 1], totals[:, 2])
    return results
