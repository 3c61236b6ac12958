"""Baselines that bracket what a policy can reach, on the test split.

- ``random``: every agent samples its action space uniformly (seeded);
- ``zero``: every agent commands nothing (generators idle at p_min, storage idle);
- ``rule-based``: :class:`~powergrid.agents.policies.RuleBasedPolicy`, from each agent's own
  observation, without a forecast;
- ``optimum``: the perfect-foresight schedule of each day (:mod:`powergrid.baselines.optimum`),
  played through the real AC env.

A trained policy should land between ``rule-based`` and ``optimum``; one above the optimum has
found an exploit of the simulator, not a strategy. ``python -m powergrid baselines --days N``
prints the table.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from heron.core.policies import RandomPolicy
from powergrid.agents.policies import RuleBasedPolicy
from powergrid.baselines.optimum import Schedule, passive_schedule, plan_day
from powergrid.baselines.play import Controller, play_day, play_schedule
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["BASELINES", "BaselineResult", "run_baselines", "play_day", "format_table", "Schedule", "plan_day"]

BASELINES = ("random", "zero", "rule-based", "optimum")

@dataclass
class BaselineResult:
    """Per test day: the episode's return, cost and safety, summed over agents."""

    name: str
    returns: np.ndarray
    costs: np.ndarray
    safety: np.ndarray

    def mean(self) -> dict[str, float]:
        return {"return": float(self.returns.mean()), "cost": float(self.costs.mean()), "safety": float(self.safety.mean())}


def _controllers(env: NetworkedGridEnv, planner: NetworkedGridEnv, seed: int) -> dict[str, Callable[[int], Controller]]:
    """For each baseline, a function of the day returning that day's controller."""
    def random(day: int) -> Controller:
        policies = {a: RandomPolicy(env.action_space(a), seed=seed + 1000 * day + k) for k, a in enumerate(env.possible_agents)}
        return lambda step, obs: {a: policies[a](obs[a]) for a in obs}

    def zero(day: int) -> Controller:
        idle = env.actions_from_setpoints(env.generators.p_min, np.zeros(env.generators.size), np.zeros(env.storage.size))
        return lambda step, obs: idle

    def rule_based(day: int) -> Controller:
        policies = {a: RuleBasedPolicy(agent) for a, agent in env.agent_dict.items()}
        return lambda step, obs: {a: policies[a](obs[a]) for a in obs}

    def optimum(day: int) -> Controller:
        planner.reset(options={"day": day})
        plan = plan_day(planner)
        return lambda step, obs: env.actions_from_setpoints(plan.gen_p[step], plan.gen_q[step], plan.ess_p[step])

    return {"random": random, "zero": zero, "rule-based": rule_based, "optimum": optimum}


def run_baselines(days: int = 20, config: Mapping[str, Any] | None = None, seed: int = 0,
                  names: tuple[str, ...] = BASELINES, progress: Callable[[str, int], None] | None = None) -> dict[str, BaselineResult]:
    """Each baseline on test days ``0 .. days - 1`` of ``config``'s setup (``MultiAgentMicrogrids``,
    centralized). ``progress(name, day)`` is called after each episode."""
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
        raise ValueError(f"days must be a positive integer, got {days!r}")
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; baselines: {list(BASELINES)}")
    config = {**dict(config or {}), "train": False, "centralized": True}
    env, planner = MultiAgentMicrogrids(config), MultiAgentMicrogrids(config)
    controllers = _controllers(env, planner, seed)
    results = {}
    for name in names:
        totals = np.zeros((days, 3))
        for day in range(days):
            totals[day] = play_day(env, day, controllers[name](day))
            if progress is not None:
                progress(name, day)
        results[name] = BaselineResult(name, totals[:, 0], totals[:, 1], totals[:, 2])
    return results


def format_table(results: Mapping[str, BaselineResult]) -> str:
    """Mean per episode (over test days) of return, cost and safety, and the return's spread."""
    days = len(next(iter(results.values())).returns)
    lines = [f"Baselines on {days} test days; per-episode sums over agents (mean over days, return's std in brackets)",
             f"{'baseline':<12} {'return':>18} {'cost':>10} {'safety':>10}"]
    for name, r in results.items():
        m = r.mean()
        lines.append(f"{name:<12} {m['return']:>9.2f} ({r.returns.std():>6.2f}) {m['cost']:>10.2f} {m['safety']:>10.3f}")
    return "\n".join(lines)
