"""One table, one run: a pandapower runpp loop, the single env (on its default lightsim2grid
and on the Newton kernel), and the batched env at several batch sizes, as env-steps per
second and as ratios to the single env and to runpp.

    python benchmarks/compare.py            # B = 1, 16, 64, 256, 1024
    python benchmarks/compare.py 256 1024   # chosen batch sizes

The batched rows run the Newton kernel (the default setup's backend is lightsim2grid) on every
thread Numba has, as the fused step (one kernel call a step, :mod:`powergrid.core.fused`) from
four copies on; the last rows run, at the largest B on one thread and on every thread, the
fused step, the step core's numpy functions around the Newton kernel (``fused=False``), and the
same setup on the sweep (``power_flow_backend: "sweep"``, never fused). Every kernel spreads its
copies with ``numba.prange``.

Each figure is the median over repeated timed blocks, so a noisy neighbour on a shared machine
moves it less than a mean would. The last column checks linear growth: step time per copy
relative to the smallest batch of 64 copies or more.
"""
from __future__ import annotations

import copy
import sys
import time
import warnings

import numba
import numpy as np
import pandapower as pp

from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.batched import BatchedMicrogrids

warnings.filterwarnings("ignore", category=FutureWarning)


def median_seconds(run, repeats: int, inner: int) -> float:
    """Median over ``repeats`` blocks of the time of one call of ``run`` (``inner`` calls a block)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            run()
        times.append((time.perf_counter() - start) / inner)
    return float(np.median(times))


def runpp_loop() -> float:
    net = copy.deepcopy(MultiAgentMicrogrids().net)
    pp.runpp(net)
    return median_seconds(lambda: pp.runpp(net), repeats=5, inner=4)


def single_env(actions: dict[str, np.ndarray], config: dict | None = None) -> float:
    env = MultiAgentMicrogrids(config)
    env.reset(seed=0)

    def step():
        if not env.agents:
            env.reset()
        env.step(actions)

    return median_seconds(step, repeats=15, inner=200)


def batched_env(num_envs: int, actions: dict[str, np.ndarray], config: dict | None = None, fused: bool | None = None) -> float:
    batch = BatchedMicrogrids(num_envs, config, fused=fused)
    batch.reset(seed=0)
    tiled = {a: np.tile(v, (num_envs, 1)) for a, v in actions.items()}
    for _ in range(3):
        batch.step(tiled)
    inner = max(2, 4000 // num_envs)
    return median_seconds(lambda: batch.step(tiled), repeats=9, inner=inner) / num_envs


def main(sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    probe = MultiAgentMicrogrids()
    actions = {a: rng.uniform(probe.action_space(a).low, probe.action_space(a).high) for a in probe.possible_agents}
    rows = [("pandapower runpp loop (one power flow)", runpp_loop()), ("single env (centralized)", single_env(actions)),
            ("single env, Newton kernel", single_env(actions, {"power_flow_backend": "newton"}))]
    rows += [(f"batched env, B = {b}", batched_env(b, actions)) for b in sizes]
    threads = numba.get_num_threads()
    kinds = (("fused", None, True), ("numpy stages + Newton", None, False), ("sweep", {"power_flow_backend": "sweep"}, None))
    for count in sorted({1, threads}):
        numba.set_num_threads(count)
        for kind, config, fused in kinds:
            rows.append((f"batched {kind}, B = {sizes[-1]}, {count} thread(s)", batched_env(sizes[-1], actions, config, fused)))
    numba.set_num_threads(threads)
    first = 3  # the rows before the batched ones
    sizes = sizes + [sizes[-1]] * (len(rows) - first - len(sizes))
    runpp, single = rows[0][1], rows[1][1]
    reference = next((t for (name, t), b in zip(rows[first:], sizes) if b >= 64), None)
    print(f"{'':52s} {'env-steps/s':>12s} {'us/env-step':>12s} {'x single':>9s} {'x runpp':>9s} {'per-copy time vs B>=64':>23s}")
    for k, (name, seconds) in enumerate(rows):
        growth = f"{seconds / reference:.2f}" if k >= first and reference and sizes[k - first] >= 64 else ""
        print(f"{name:52s} {1 / seconds:12,.0f} {seconds * 1e6:12.1f} {single / seconds:9.1f} {runpp / seconds:9.0f} {growth:>23s}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1, 16, 64, 256, 1024])
