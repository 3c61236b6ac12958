"""What a fresh process pays before its steady step: import, construction, reset, first step.

Each row is one fresh interpreter. ``cold``: empty Numba and model caches (a first run on a new
machine: every kernel compiles, the model is built from pandapower); ``warm``: both caches
filled by the row before (every later run). The first step is where Numba's kernels compile or
load, so its excess over the steady step is the compile (or cache-load) time.

    python benchmarks/startup.py [rounds]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CHILD = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
from powergrid.envs import MultiAgentMicrogrids
t1 = time.perf_counter()
env = MultiAgentMicrogrids({"train": False})
t2 = time.perf_counter()
env.reset(seed=0)
t3 = time.perf_counter()
actions = {a: np.zeros(env.action_space(a).shape) for a in env.agents}
env.step(actions)
t4 = time.perf_counter()
steps = []
for _ in range(50):
    if not env.agents:
        env.reset()
    s = time.perf_counter(); env.step(actions); steps.append(time.perf_counter() - s)
print(json.dumps({"import": t1 - t0, "construct": t2 - t1, "reset": t3 - t2, "first_step": t4 - t3,
                  "step": float(np.median(steps))}))
"""

PHASES = ("import", "construct", "reset", "first_step", "step")


def run(env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(rounds: int) -> None:
    rows: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as numba_cache, tempfile.TemporaryDirectory() as model_cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": numba_cache, "POWERGRID_CACHE": model_cache}
            rows["cold"].append(run(env))
            rows["warm"].append(run(env))
    print(f"| start ({rounds} fresh interpreters each, medians) | " + " | ".join(PHASES) + " | first step - step |")
    print("|---" * (len(PHASES) + 2) + "|")
    for kind, runs in rows.items():
        med = {p: float(np.median([r[p] for r in runs])) for p in PHASES}
        cells = [f"{med[p]:.2f} s" if med[p] >= 0.1 else f"{med[p] * 1e3:.2f} ms" for p in PHASES]
        print(f"| {kind} | " + " | ".join(cells) + f" | {med['first_step'] - med['step']:.2f} s |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
