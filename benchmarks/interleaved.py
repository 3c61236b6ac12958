"""Centralized and distributed steps measured in interleaved rounds, on a shared, noisy machine.

One round times ``steps`` centralized steps, then ``steps`` distributed steps, of the default
setup with the same actions; rounds repeat, and the figures are medians over rounds. Single
rounds on a loaded 2-core machine range from 0.9x to 2.5x: only the interleaved median of the
ratio means anything. ``python benchmarks/interleaved.py [rounds]`` prints one line, so that
two versions of the code can be run one after the other (``PYTHONPATH=...``) for a before and
after.
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from powergrid.envs import MultiAgentMicrogrids

ACTIONS = {a: np.array([0.1, 0.0, 0.05]) for a in ("MG1", "MG2", "MG3")}


def _timed_steps(env: MultiAgentMicrogrids, steps: int) -> float:
    """Seconds per step over ``steps`` steps (resets between episodes are not timed)."""
    total = 0.0
    for _ in range(steps):
        if not env.agents:
            env.reset()
        start = time.perf_counter()
        env.step(ACTIONS)
        total += time.perf_counter() - start
    return total / steps


def interleaved(rounds: int = 20, steps: int = 200) -> dict[str, float]:
    """Median seconds per centralized and distributed step, and the median per-round ratio."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    central, distributed = MultiAgentMicrogrids(), MultiAgentMicrogrids({"centralized": False})
    for env in (central, distributed):
        env.reset(seed=0)
        _timed_steps(env, 50)  # warm up
    c, d = np.zeros(rounds), np.zeros(rounds)
    for r in range(rounds):
        c[r] = _timed_steps(central, steps)
        d[r] = _timed_steps(distributed, steps)
    return {"centralized_s": float(np.median(c)), "distributed_s": float(np.median(d)), "ratio": float(np.median(d / c))}


if __name__ == "__main__":
    result = interleaved(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    print(f"centralized {result['centralized_s'] * 1e6:.1f} us  distributed {result['distributed_s'] * 1e6:.1f} us  "
          f"ratio {result['ratio']:.3f}")
