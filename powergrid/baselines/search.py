"""Direct search on the real env: can any schedule of actions beat a plan?

A bound is only as good as the search that fails to beat it. Here a day's schedule is the
flat action of every step, ``(T, D)`` (``D``: all agents' actions side by side), and its
value is the return the env pays for it, summed over agents. Candidates are played many at a
time, one per copy of a batched env (:class:`~powergrid.envs.batched.BatchedMicrogrids`, the
same centralized step as the single env), and the best is replayed in the single env.

- :func:`coordinate_search`: every entry moved up and down by a step at once, the moves that
  pay combined; the step halves when none does;
- :func:`cma_search`: CMA-ES (separable, the ``cma`` package) around a schedule;
- :func:`corners`: constant schedules at the corners of the action box, and random ones.

:func:`hunt` runs all three from a plan and reports what they found.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from powergrid.baselines.play import play_schedule
from powergrid.envs.batched import BatchedMicrogrids
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids

__all__ = ["DayEvaluator", "coordinate_search", "cma_search", "corners", "hunt", "HuntReport"]


class DayEvaluator:
    """Returns of many schedules of one day, played ``batch`` at a time in a batched env."""

    def __init__(self, config: Mapping[str, Any], day: int, batch: int = 256) -> None:
        self.config, self.day, self.batch = dict(config), int(day), int(batch)
        self.env = BatchedMicrogrids(self.batch, self.config)
        self.steps = self.env.max_episode_steps
        self.low, self.high = self.env.layout.action_low, self.env.layout.action_high
        self.evaluations = 0

    def __call__(self, schedules: np.ndarray) -> np.ndarray:
        """``schedules`` ``(N, T, D)`` -> their returns ``(N,)``."""
        schedules = np.asarray(schedules, dtype=float)
        if schedules.ndim != 3 or schedules.shape[1:] != (self.steps, self.low.size):
            raise ValueError(f"schedules must have shape (N, {self.steps}, {self.low.size}), got {schedules.shape}")
        out = np.empty(len(schedules))
        for start in range(0, len(schedules), self.batch):
            chunk = schedules[start:start + self.batch]
            padded = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch - len(chunk), axis=0)])
            self.env.reset(options={"day": self.day})
            total = np.zeros(self.batch)
            for t in range(self.steps):
                self.env.step(padded[:, t])
                total += self.env.reward_array.sum(axis=1)
            out[start:start + len(chunk)] = total[:len(chunk)]
        self.evaluations += len(schedules)
        return out


def coordinate_search(evaluate: DayEvaluator, x0: np.ndarray, step: float = 0.05, passes: int = 4, sweeps: int = 5,
                      min_step: float = 1e-3) -> tuple[np.ndarray, float]:
    """From ``x0``, move every entry by ± ``step`` × its range (all moves evaluated at once);
    take the moves that pay, together if that pays more than the best alone (at most
    ``sweeps`` times a pass); halve the step when none pays, ``passes`` times. Returns the
    best schedule and its return."""
    low, high = evaluate.low, evaluate.high
    span = np.where(high > low, high - low, 0.0)
    x = np.clip(np.asarray(x0, float), low, high)
    best = float(evaluate(x[None])[0])
    movable = np.flatnonzero(np.broadcast_to(span > 0, x.shape).ravel())
    for _ in range(passes):
        for _ in range(sweeps):
            candidates = np.repeat(x[None], 2 * movable.size, axis=0).reshape(2 * movable.size, -1)
            moves = np.concatenate([step * span.ravel().take(movable % span.size), -step * span.ravel().take(movable % span.size)])
            rows = np.arange(2 * movable.size)
            cols = np.concatenate([movable, movable])
            candidates[rows, cols] = np.clip(candidates[rows, cols] + moves, np.tile(low, x.shape[0])[cols],
                                             np.tile(high, x.shape[0])[cols])
            values = evaluate(candidates.reshape((-1,) + x.shape))
            gains = values - best
            if gains.max() <= 1e-9 * max(abs(best), 1.0):
                break
            combined = x.ravel().copy()
            for r in np.argsort(-gains):  # the paying moves, best first, one per entry
                if gains[r] <= 0:
                    break
                if combined[cols[r]] == x.ravel()[cols[r]]:
                    combined[cols[r]] = candidates[r, cols[r]]
            together = float(evaluate(combined.reshape((1,) + x.shape))[0])
            top = int(np.argmax(gains))
            if together >= values[top]:
                x, best = combined.reshape(x.shape), together
            else:
                x, best = candidates[top].reshape(x.shape), float(values[top])
        step /= 2
        if step < min_step:
            break
    return x, best


def cma_search(evaluate: DayEvaluator, x0: np.ndarray, sigma: float = 0.05, generations: int = 30, popsize: int | None = None,
               seed: int = 0) -> tuple[np.ndarray, float]:
    """Separable CMA-ES around ``x0`` in box-normalised coordinates (``sigma``: a fraction of
    each entry's range). Returns the best schedule seen and its return."""
    import cma

    low, high = evaluate.low, evaluate.high
    span = np.where(high > low, high - low, 1.0)
    shape = np.shape(x0)
    to_unit = lambda x: ((np.asarray(x) - low) / span).ravel()  # noqa: E731
    from_unit = lambda u: np.clip(low + np.reshape(u, shape) * span, low, high)  # noqa: E731
    popsize = popsize or min(evaluate.batch, 64)
    es = cma.CMAEvolutionStrategy(to_unit(np.clip(x0, low, high)), sigma, {
        "popsize": popsize, "bounds": [0.0, 1.0], "seed": seed + 1, "CMA_diagonal": True, "verbose": -9})
    best_x = np.clip(np.asarray(x0, float), low, high)
    best = float(evaluate(best_x[None])[0])
    for _ in range(generations):
        population = es.ask()
        schedules = np.stack([from_unit(u) for u in population])
        values = evaluate(schedules)
        es.tell(population, (-values).tolist())
        top = int(np.argmax(values))
        if values[top] > best:
            best, best_x = float(values[top]), schedules[top]
    return best_x, best


def corners(evaluate: DayEvaluator, random: int = 64, seed: int = 0) -> tuple[np.ndarray, float]:
    """Constant schedules at every corner of the action box (when there are at most 2^12
    of them), each entry at its low, zero or high, and ``random`` uniform random schedules.
    Returns the best and its return."""
    low, high, T = evaluate.low, evaluate.high, evaluate.steps
    D = low.size
    levels = np.stack([low, np.clip(0.0, low, high), high])
    if D <= 12:
        grid = np.array(np.meshgrid(*[[0, 2]] * D, indexing="ij")).reshape(D, -1).T
    else:
        grid = np.stack([np.zeros(D, int), np.full(D, 2)])
    constant = [levels[g, np.arange(D)] for g in grid] + [levels[1]]
    rng = np.random.default_rng(seed)
    schedules = np.concatenate([np.repeat(np.array(constant)[:, None], T, axis=1), rng.uniform(low, high, (random, T, D))])
    values = evaluate(schedules)
    top = int(np.argmax(values))
    return schedules[top], float(values[top])


@dataclass
class HuntReport:
    """What a direct search found against a plan on one day (returns summed over agents)."""

    day: int
    plan: float  # the plan's return, replayed in the single env
    found: dict[str, float] = field(default_factory=dict)  # method -> best return found
    best: np.ndarray | None = None  # the best schedule found
    evaluations: int = 0

    @property
    def gain(self) -> float:
        """How much the best schedule found beats the plan, as a fraction of |plan| (> 0: beaten)."""
        return (max(self.found.values()) - self.plan) / abs(self.plan)


def hunt(config: Mapping[str, Any], day: int, plan: np.ndarray, budget: str = "small", seed: int = 0,
         batch: int = 256) -> HuntReport:
    """Coordinate search and CMA-ES from ``plan`` (``(T, D)`` flat actions), corners and random
    schedules with a coordinate search from the best of them, on ``day`` of ``config``'s test
    split; the best schedule found is replayed in the single env. ``budget``: ``'small'``
    (a test's) or ``'large'`` (a benchmark's)."""
    if budget not in ("small", "large"):
        raise ValueError(f"budget must be 'small' or 'large', got {budget!r}")
    large = budget == "large"
    config = {**dict(config), "train": False, "centralized": True}
    evaluate = DayEvaluator(config, day, batch)
    single = MultiAgentMicrogrids(config)
    report = HuntReport(day, play_schedule(single, day, plan)[0])
    found = {}
    found["coordinate"] = coordinate_search(evaluate, plan, step=0.05, passes=5 if large else 2, sweeps=4 if large else 2)
    found["cma-es"] = cma_search(evaluate, plan, sigma=0.02, generations=60 if large else 10, seed=seed)
    start, _ = corners(evaluate, random=128 if large else 16, seed=seed)
    found["corners+coordinate"] = coordinate_search(evaluate, start, step=0.2, passes=5 if large else 2,
                                                    sweeps=3 if large else 1)
    for method, (schedule, _) in found.items():
        report.found[method] = play_schedule(single, day, schedule)[0]
    best = max(found, key=lambda m: report.found[m])
    report.best, report.evaluations = found[best][0], evaluate.evaluations
    return report
