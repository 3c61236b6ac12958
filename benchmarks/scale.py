"""Build time, memory and step time against the number of microgrids (``powergrid.setups.many``).

    python benchmarks/scale.py                        # n = 3, 30, 100, 300, 1000; every mode
    python benchmarks/scale.py --sizes 30 1000 --modes centralized
    python benchmarks/scale.py --plot docs/scale.png  # and the log-log picture of step time
    python benchmarks/scale.py --year 1000            # the zero policy over every hour of both splits

Each (n, mode) runs in a fresh interpreter, so its build is a first build (the network made
from scratch; imports not counted) and its memory is that process's peak resident set.
Modes: ``centralized`` and ``distributed`` (in-memory broker, agents in the env's process) step
one env; ``batched`` steps ``--copies`` copies at once and reports the time per env-step. The
step time is the median over timed steps of the zero policy on test days. The last lines fit
the growth of the step time with n (the slope of log time against log n, n >= 30).

Targets (issue 28): at 1,000 microgrids, build <= 10 s, centralized step <= 20 ms, memory
<= 2 GB; step time growing no faster than linearly in n.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODES = ("centralized", "distributed", "batched")


def measure(n: int, mode: str, copies: int, steps: int) -> dict[str, float]:
    """One (n, mode) in this process: build seconds, median step seconds (per env-step), peak MB."""
    from powergrid.envs import MultiAgentMicrogrids
    from powergrid.envs.batched import BatchedMicrogrids
    from powergrid.setups import many

    config = dict(many(n), train=False, centralized=mode != "distributed")
    start = time.perf_counter()
    env = BatchedMicrogrids(copies, config) if mode == "batched" else MultiAgentMicrogrids(config)
    build = time.perf_counter() - start
    env.reset(seed=0)
    lead = (copies,) if mode == "batched" else ()
    zero = {a: np.zeros(lead + env.action_space(a).shape) for a in env.possible_agents}
    times = []
    for _ in range(steps + 3):
        if mode != "batched" and not env.agents:
            env.reset()
        start = time.perf_counter()
        env.step(zero)
        times.append(time.perf_counter() - start)
    step = float(np.median(times[3:])) / (copies if mode == "batched" else 1)
    return {"n": n, "mode": mode, "build_s": build, "step_s": step,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def year(n: int) -> None:
    """The zero policy over every hour an episode reaches in both splits: hours, failures, time."""
    from powergrid.envs import MultiAgentMicrogrids
    from powergrid.setups import load_dataset, load_setup, many

    data = load_dataset(load_setup("ieee34_ieee13")["dataset_path"])
    for split in ("train", "test"):
        hours = len(next(iter(data[split]["price"].values())))
        env = MultiAgentMicrogrids(dict(many(n), train=split == "train", max_episode_steps=hours - 1))
        env.reset(seed=0, options={"day": 0})
        zero = {a: np.zeros(env.action_space(a).shape) for a in env.agents}
        failed = steps = 0
        unsafe = 0.0
        start = time.perf_counter()
        while env.agents:
            _, _, _, _, infos = env.step(zero)
            failed += not infos["MG1"]["converged"]
            unsafe += sum(info["safety"] for info in infos.values())
            steps += 1
        print(f"n = {n}, {split}: {steps} steps, {failed} not converged, {env.core.backend.fallback_solves} solved by the "
              f"fallback, safety {unsafe:.3f}, {time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 30, 100, 300, 1000])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--copies", type=int, default=8, help="copies a batched step runs (default 8)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--plot", type=Path, help="write the log-log picture of step time against n here")
    parser.add_argument("--year", type=int, metavar="N", help="run the zero policy over both splits at N microgrids and stop")
    parser.add_argument("--worker", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.year:
        return year(args.year)
    if args.worker:
        print(json.dumps(measure(int(args.worker[0]), args.worker[1], args.copies, args.steps)))
        return None
    rows = []
    print(f"{'n':>6s} {'mode':12s} {'build s':>8s} {'step ms':>9s} {'peak MB':>8s}")
    for n in args.sizes:
        for mode in args.modes:
            out = subprocess.run([sys.executable, __file__, "--worker", str(n), mode, "--copies", str(args.copies), "--steps",
                                  str(args.steps)], capture_output=True, text=True, check=True, cwd=ROOT)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{n:6d} {mode:12s} {row['build_s']:8.2f} {row['step_s'] * 1e3:9.3f} {row['peak_mb']:8.0f}", flush=True)
    for mode in args.modes:
        points = [(r["n"], r["step_s"]) for r in rows if r["mode"] == mode and r["n"] >= 30]
        if len(points) >= 2:
            slope = np.polyfit(np.log([p[0] for p in points]), np.log([p[1] for p in points]), 1)[0]
            print(f"{mode}: step time grows as n^{slope:.2f} (n >= 30)")
    if args.plot:
        plot(rows, args.plot, args.copies)
    return None


def plot(rows: list[dict], path: Path, copies: int) -> None:
    from powergrid.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for mode in MODES:
        points = sorted((r["n"], r["step_s"] * 1e3) for r in rows if r["mode"] == mode)
        if points:
            label = f"batched ({copies} copies), per env-step" if mode == "batched" else mode
            ax.loglog(*zip(*points), marker="o", label=label)
    sizes = sorted({r["n"] for r in rows})
    ax.loglog(sizes, [0.02 * n for n in sizes], color="0.6", linestyle=":", label="linear in n (20 us per microgrid)")
    ax.axhline(20.0, color="0.3", linestyle="--", linewidth=0.8, label="target at 1,000: 20 ms")
    ax.set_xlabel("microgrids (powergrid.setups.many)")
    ax.set_ylabel("step time (ms, median)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
