"""Baselines that bracket what a policy can reach, and the score a paper reports against them.

On the test split of a setup, with the episode settings ``load_setup(setup)`` gives:

- ``random``: every agent samples its action space uniformly (seeded);
- ``zero``: every action is 0 (generators at 0, curtailing solar and wind; storage idle);
- ``do-nothing``: truly passive (solar and wind at what the weather gives, dispatchable
  generators at p_min, no reactive power, storage idle): the score's 0;
- ``rule-based``: :class:`~powergrid.agents.policies.RuleBasedPolicy`, from each agent's own
  observation, without a forecast;
- ``optimum``: the perfect-foresight schedule of each day (:mod:`powergrid.baselines.optimum`),
  played through the real AC env: the score's 1.

A trained policy should land between ``do-nothing`` and ``optimum``; one above the optimum has
found an exploit of the simulator, not a strategy (:mod:`powergrid.baselines.search` looks for
one directly). ``python -m powergrid baselines --setup NAME --days N`` prints the table;
:func:`score` scores any policy (:mod:`powergrid.baselines.score`).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from powergrid.baselines.optimum import Schedule, passive_schedule, plan_day
from powergrid.baselines.play import Controller, play_day, play_schedule
from powergrid.baselines.score import Score, normalised, score
from powergrid.baselines.table import BASELINES, REFERENCE, BaselineResult, do_nothing, run_baselines, task_config

__all__ = ["BASELINES", "REFERENCE", "BaselineResult", "Controller", "Schedule", "Score", "do_nothing", "format_table",
           "normalised", "passive_schedule", "plan_day", "play_day", "play_schedule", "run_baselines", "score", "task_config"]


def format_table(results: Mapping[str, BaselineResult], per_day: bool = True) -> str:
    """Each baseline's score (pooled over days, with its 95 % interval) and its mean return,
    cost and safety per episode; then, per day, every baseline's return and score."""
    first = next(iter(results.values()))
    days = len(first.returns)
    scores, about = {}, "score: share of the optimum's gain over doing nothing, pooled over days [95 % bootstrap interval]"
    if REFERENCE in results and "optimum" in results:
        ref, opt = results[REFERENCE].returns, results["optimum"].returns
        try:
            scores = {name: normalised(r.returns, ref, opt) for name, r in results.items()}
        except ValueError as error:  # the optimum gains nothing over doing nothing on these days
            about = f"no score: {error}"
    lines = [f"Baselines on test days 0-{days - 1}; per-episode sums over agents (mean over days, return's std across days in brackets);",
             about,
             f"{'baseline':<12} {'score':>24} {'return':>20} {'cost':>11} {'safety':>9}"]
    for name, r in results.items():
        m = r.mean()
        s = scores.get(name)
        shown = f"{100 * s.total:7.1f} % [{100 * s.interval[0]:6.1f}, {100 * s.interval[1]:6.1f}]" if s else "-"
        lines.append(f"{name:<12} {shown:>24} {m['return']:>10.2f} ({r.returns.std():>7.2f}) {m['cost']:>11.2f} {m['safety']:>9.4f}")
    if per_day:
        names = list(results)
        lines += ["", "Per day: return (score %)", "day " + "".join(f"{n:>25}" for n in names)]
        for d in range(days):
            cells = []
            for n in names:
                value = scores[n].per_day[d] if n in scores else np.nan
                shown = f"({100 * value:.1f})" if np.isfinite(value) else ""
                cells.append(f" {results[n].returns[d]:>12.2f} {shown:>11}")
            lines.append(f"{d:<4}" + "".join(cells))
    return "\n".join(lines)
