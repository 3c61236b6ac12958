"""PowerGrid speed, side by side: one pandapower runpp on the fused 76-bus net (the baseline),
the centralized and distributed env step, reset, construction and import.

Targets: centralized step >= 100x faster than one runpp and >= 5,000 steps/s; distributed step
<= 1.5x the centralized step; reset <= 1 ms; construction <= 1 s; ``import powergrid.envs`` <= 1.5 s.
"""
import copy
import subprocess
import sys
import warnings

import numpy as np
import pandapower as pp
import pytest

from powergrid.envs import MultiAgentMicrogrids
from powergrid.networks import CIGRE_LV, IEEE13Bus, IEEE34Bus, IEEE123Bus
from powergrid.powerflow import LightSimBackend, PandapowerBackend
from powergrid.powerflow.batched import BatchedNewtonBackend

warnings.filterwarnings("ignore", category=FutureWarning)
ACTIONS = {a: np.array([0.1, 0.0, 0.05]) for a in ("MG1", "MG2", "MG3")}


def stepper(env):
    env.reset(seed=0)

    def step():
        if not env.agents:
            env.reset()
        env.step(ACTIONS)

    return step


@pytest.mark.benchmark(group="powergrid: one step of the default setup")
def test_runpp_baseline(benchmark):
    net = copy.deepcopy(MultiAgentMicrogrids().net)
    pp.runpp(net)
    benchmark.pedantic(pp.runpp, args=(net,), rounds=30, warmup_rounds=2)


@pytest.mark.benchmark(group="powergrid: one step of the default setup")
def test_centralized_step(benchmark):
    benchmark.pedantic(stepper(MultiAgentMicrogrids()), rounds=3000, warmup_rounds=50)
    benchmark.extra_info["steps_per_s_median"] = 1.0 / benchmark.stats.stats.median


@pytest.mark.benchmark(group="powergrid: one step of the default setup")
def test_distributed_step(benchmark):
    benchmark.pedantic(stepper(MultiAgentMicrogrids({"centralized": False})), rounds=1000, warmup_rounds=50)
    benchmark.extra_info["steps_per_s_median"] = 1.0 / benchmark.stats.stats.median


NETWORKS = {"IEEE13": IEEE13Bus, "IEEE34": IEEE34Bus, "IEEE123": IEEE123Bus, "CIGRE_LV": CIGRE_LV, "default (76 buses)": lambda: MultiAgentMicrogrids().net}
BATCH = 64  # copies solved per call by the batched backend: the table times the call, extra_info has per copy


@pytest.mark.benchmark(group="powergrid: power flow per backend and network")
@pytest.mark.parametrize("network", sorted(NETWORKS))
@pytest.mark.parametrize("backend", ["lightsim2grid", "pandapower", "numba-batched (64 copies a call)"])
def test_power_flow_solve(benchmark, backend, network):
    """A solve after every load moved by up to ±10 % (warm start from the last solution)."""
    net = copy.deepcopy(NETWORKS[network]())
    batched = backend.startswith("numba")
    solver = BatchedNewtonBackend(net, BATCH) if batched else {"lightsim2grid": LightSimBackend, "pandapower": PandapowerBackend}[backend](net)
    rng = np.random.default_rng(0)

    def solve():
        solver.load_p[:] = solver.initial["load_p"] * rng.uniform(0.9, 1.1, solver.load_p.shape)
        return solver.solve()

    rounds = {"lightsim2grid": 300, "pandapower": 20}.get(backend, 100)
    result = benchmark.pedantic(solve, rounds=rounds, warmup_rounds=2)
    assert np.all(result.converged)
    per_solve = benchmark.stats.stats.median / (BATCH if batched else 1)
    benchmark.extra_info["us_per_solve_median"] = per_solve * 1e6


@pytest.mark.benchmark(group="powergrid: reset and construction")
def test_reset(benchmark):
    env = MultiAgentMicrogrids()
    env.reset(seed=0)
    benchmark.pedantic(env.reset, rounds=500, warmup_rounds=5)


@pytest.mark.benchmark(group="powergrid: reset and construction")
def test_construction(benchmark):
    MultiAgentMicrogrids()
    benchmark.pedantic(MultiAgentMicrogrids, rounds=10, warmup_rounds=1)


@pytest.mark.benchmark(group="powergrid: reset and construction")
def test_import_powergrid_envs(benchmark):
    """``import powergrid.envs`` timed inside fresh interpreters (the benchmark's own time is the
    whole process, start-up and teardown included; extra_info has the import alone)."""
    code = "import time; t = time.perf_counter(); import powergrid.envs; print(time.perf_counter() - t)"
    seconds = []

    def fresh_import():
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        seconds.append(float(out.strip().splitlines()[-1]))

    benchmark.pedantic(fresh_import, rounds=5, warmup_rounds=1)
    benchmark.extra_info["import_s_median"] = float(np.median(seconds[1:]))


@pytest.mark.benchmark(group="powergrid: distributed over centralized, interleaved rounds")
def test_distributed_over_centralized_interleaved(benchmark):
    """20 rounds of 200 centralized then 200 distributed steps (see ``interleaved.py``); the
    benchmark times the whole measurement, extra_info has the medians and the median ratio
    (target <= 1.5)."""
    from interleaved import interleaved

    result = benchmark.pedantic(interleaved, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
