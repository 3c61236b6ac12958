"""A normalised score a paper can report: the share of the optimum's gain over doing nothing.

On a test day ``d``, ``score_d = (R_d - R_ref,d) / (R_opt,d - R_ref,d)``: 0 is doing nothing
(the ``do-nothing`` baseline), 1 is the perfect-foresight optimum. Returns vary from day to
day far more than the gap between the two, so days are compared with themselves, never
averaged first. Over several days the score is the pooled ratio
``sum(R - R_ref) / sum(R_opt - R_ref)`` (days where little can be gained weigh little; a
mean of per-day ratios would be ruled by them), with a 95 % bootstrap interval over days.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from powergrid.baselines.play import play_day
from powergrid.baselines.table import REFERENCE, BaselineResult, run_baselines, task_config
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids

__all__ = ["Score", "score", "normalised"]

Policy = Callable[[Mapping[str, np.ndarray]], Mapping[str, Any]] | Mapping[str, Callable[[np.ndarray], Any]]


@dataclass
class Score:
    """A policy's normalised score on test days ``days``."""

    days: np.ndarray
    per_day: np.ndarray  # nan on a day where the optimum gains nothing over the reference
    total: float  # pooled over the days
    interval: tuple[float, float]  # 95 % bootstrap interval of ``total`` over days
    returns: np.ndarray

    def __str__(self) -> str:
        low, high = self.interval
        return f"{100 * self.total:.1f} % of the optimum's gain over doing nothing (95 % interval {100 * low:.1f} to {100 * high:.1f} %, {len(self.days)} days)"


def normalised(returns: Sequence[float], reference: Sequence[float], optimum: Sequence[float], seed: int = 0,
               resamples: int = 10_000) -> Score:
    """The score of per-day ``returns`` against the same days' ``reference`` and ``optimum``."""
    r, ref, opt = (np.asarray(x, dtype=float) for x in (returns, reference, optimum))
    if not (r.shape == ref.shape == opt.shape and r.ndim == 1 and r.size):
        raise ValueError(f"returns, reference and optimum must be 1-d and of one length, got shapes {r.shape}, {ref.shape}, {opt.shape}")
    if not (np.isfinite(r).all() and np.isfinite(ref).all() and np.isfinite(opt).all()):
        raise ValueError("returns, reference and optimum must be finite")
    gain, gap = r - ref, opt - ref
    if gap.sum() <= 0:
        raise ValueError(f"the optimum gains nothing over the reference on these days (sum of gaps {gap.sum():.3g}): no score")
    tiny = gap <= 1e-9 * np.maximum(np.abs(opt), 1.0)
    per_day = np.where(tiny, np.nan, gain / np.where(tiny, 1.0, gap))
    pick = np.random.default_rng(seed).integers(0, r.size, (resamples, r.size))
    gaps = gap[pick].sum(axis=1)
    ratios = gain[pick].sum(axis=1)[gaps > 0] / gaps[gaps > 0]  # a resample of days without a gap has no score
    low, high = np.percentile(ratios, [2.5, 97.5])
    return Score(np.arange(r.size), per_day, float(gain.sum() / gap.sum()), (float(low), float(high)), r)


def score(policy_or_returns: Policy | Sequence[float], days: int | None = None, config: Mapping[str, Any] | None = None,
          setup: str | None = None, baselines: Mapping[str, BaselineResult] | None = None) -> Score:
    """The normalised score of a policy, or of its per-day returns, on test days ``0 .. days - 1``
    of the task :func:`~powergrid.baselines.table.task_config` describes.

    A policy is ``policy(observations) -> actions`` (dicts by agent), or a dict of per-agent
    ``policy(observation) -> action`` (e.g. ``RuleBasedPolicy``). Returns are one per day, summed
    over steps and agents. ``baselines``: a table from :func:`run_baselines` on the same days and
    task, to reuse; otherwise the reference and the optimum are played here.
    """
    if callable(policy_or_returns) or isinstance(policy_or_returns, Mapping):
        if days is None:
            raise ValueError("days is needed to score a policy")
        env = MultiAgentMicrogrids(task_config(setup, config))
        policy = policy_or_returns
        act = (lambda obs: {a: policy[a](o) for a, o in obs.items()}) if isinstance(policy, Mapping) else policy
        returns = np.array([play_day(env, day, lambda step, obs: act(obs))[0] for day in range(days)])
    else:
        returns = np.asarray(policy_or_returns, dtype=float)
        if returns.ndim != 1:
            raise ValueError(f"returns must be one per day (1-d), got shape {returns.shape}")
        if days is not None and days != returns.size:
            raise ValueError(f"days is {days} but {returns.size} returns were given")
    if baselines is None:
        baselines = run_baselines(returns.size, config, names=(REFERENCE, "optimum"), setup=setup)
    reference, optimum = baselines[REFERENCE].returns, baselines["optimum"].returns
    if reference.size != returns.size:
        raise ValueError(f"the baselines cover {reference.size} days, the returns {returns.size}")
    return normalised(returns, reference, optimum)
