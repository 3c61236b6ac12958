"""What a fresh process pays before its steady step: import, construction, reset, first step.

Each row is one fresh interpreter. ``cold``: empty Numba and model caches (a first run on a new
machine: every kernel compiles, the model is built from pandapower); ``warm``: both caches
filled by the row before (every later run). The first step is where Numba's kernels compile or
load, so its excess over the steady step is the compile (or cache-load) time.

``--against PATH`` runs a checkout of other code (e.g. ``git worktree add /tmp/before HEAD~1``)
in the same rounds, alternating with this one, so both see the same machine.

    python benchmarks/startup.py [rounds] [--against PATH]
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


HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this checkout: its package comes first on the path


def run(env: dict[str, str], code: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=code, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(rounds: int, against: str | None = None) -> None:
    codes = {"this": HERE} if against is None else {"this": HERE, "against": os.path.abspath(against)}
    rows: dict[tuple[str, str], list[dict[str, float]]] = {(c, k): [] for c in codes for k in ("cold", "warm")}
    for _ in range(rounds):
        for name, code in codes.items():
            with tempfile.TemporaryDirectory() as numba_cache, tempfile.TemporaryDirectory() as model_cache:
                env = {**os.environ, "NUMBA_CACHE_DIR": numba_cache, "POWERGRID_CACHE": model_cache}
                rows[name, "cold"].append(run(env, code))
                rows[name, "warm"].append(run(env, code))
    print(f"| code | start ({rounds} fresh interpreters each, medians) | " + " | ".join(PHASES) + " | first step - step |")
    print("|---" * (len(PHASES) + 3) + "|")
    for (name, kind), runs in rows.items():
        med = {p: float(np.median([r[p] for r in runs])) for p in PHASES}
        cells = [f"{med[p]:.2f} s" if med[p] >= 0.1 else f"{med[p] * 1e3:.2f} ms" for p in PHASES]
        print(f"| {name} | {kind} | " + " | ".join(cells) + f" | {med['first_step'] - med['step']:.2f} s |")


if __name__ == "__main__":
    args = sys.argv[1:]
    other = None
    if "--against" in args:
        at = args.index("--against")
        other = args[at + 1]
        del args[at:at + 2]
    main(int(args[0]) if args else 3, other)
