"""``python -m powergrid evaluate``: a policy on test days, traced, with a picture of a day.

``--policy`` is a baseline (``random``, ``zero``, ``do-nothing``, ``rule``, ``optimum``) or the
path of a Python file that defines ``policy(observations) -> actions`` (dicts by agent) or
``make_policy(env)`` returning one. Each day is played on the task ``load_setup(--setup)``
describes and recorded by :class:`~powergrid.envs.trace.TraceRecorder`; the table gives each
day's return, cost and safety, and ``--plot`` draws one day per microgrid: the price, the
microgrid's import, its storage's state of charge and its buses' voltages against the band.
"""
from __future__ import annotations

import runpy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from powergrid.baselines.play import Controller, play_day
from powergrid.baselines.table import controllers, task_config
from powergrid.core.safety import V_MAX, V_MIN
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.envs.trace import TraceRecorder

__all__ = ["POLICIES", "evaluate", "load_policy", "plot_day"]

POLICIES = ("random", "zero", "do-nothing", "rule", "optimum")


def load_policy(path: str | Path, env: MultiAgentMicrogrids) -> Callable[[Mapping[str, np.ndarray]], Mapping[str, Any]]:
    """The policy a Python file defines: ``make_policy(env)``'s result, or ``policy``."""
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise ValueError(f"--policy must be one of {list(POLICIES)} or a Python file defining policy(observations) "
                         f"or make_policy(env); got {str(path)!r}")
    names = runpy.run_path(str(path))
    if callable(names.get("make_policy")):
        return names["make_policy"](env)
    if callable(names.get("policy")):
        return names["policy"]
    raise ValueError(f"{str(path)!r} defines neither policy(observations) nor make_policy(env)")


def evaluate(policy: str, days: int = 1, setup: str | None = None, config: Mapping[str, Any] | None = None,
             seed: int = 0) -> tuple[np.ndarray, Any]:
    """``policy`` on test days ``0 .. days - 1``: per day (return, cost, safety) summed over
    agents, ``(days, 3)``, and the trace of every step (a DataFrame)."""
    config = task_config(setup, config)
    env = TraceRecorder(MultiAgentMicrogrids(config))
    if policy in POLICIES:
        planner = MultiAgentMicrogrids(config) if policy == "optimum" else env.env
        make: Callable[[int], Controller] = controllers(env.env, planner, seed)["rule-based" if policy == "rule" else policy]
    else:
        act = load_policy(policy, env.env)
        make = lambda day: (lambda step, obs: act(obs))  # noqa: E731
    totals = np.array([play_day(env, day, make(day)) for day in range(days)])
    return totals, env.frame()


def plot_day(frame: Any, path: str | Path, day: int | None = None) -> Path:
    """One day of a trace per microgrid (columns): price, import, state of charge, voltages."""
    from powergrid.plotting import pyplot

    plt = pyplot("the evaluation plot")
    day = int(frame["day"].iloc[0]) if day is None else day
    rows = frame[frame["day"] == day]
    agents = sorted({c.split("/")[0] for c in frame.columns if "/" in c})
    fig, axes = plt.subplots(4, len(agents), figsize=(4 * len(agents), 9), sharex=True, squeeze=False)
    step = rows["step"].to_numpy()
    for k, agent in enumerate(agents):
        col = lambda suffix: [c for c in rows.columns if c.startswith(f"{agent}/") and c.endswith(suffix)]  # noqa: E731
        price, imports, soc, vm = axes[0, k], axes[1, k], axes[2, k], axes[3, k]
        price.plot(step, rows[f"{agent}/price"], color="C1")
        price.set_title(agent)
        imports.plot(step, rows[f"{agent}/p_import"], color="C0")
        imports.axhline(0.0, color="grey", linewidth=0.5)
        for c in col(".soc"):
            soc.plot(step, rows[c], label=c.split("/")[1].removesuffix(".soc"))
        soc.set_ylim(0, 1)
        volts = rows[col(".vm")].to_numpy()
        vm.fill_between(step, volts.min(axis=1), volts.max(axis=1), color="C2", alpha=0.4, label="buses' range")
        for limit in (V_MIN, V_MAX):
            vm.axhline(limit, color="C3", linestyle="--", linewidth=0.8)
        vm.set_xlabel("step (h)")
        if k == 0:
            price.set_ylabel("price ($/MWh)")
            imports.set_ylabel("import (pu)")
            soc.set_ylabel("state of charge")
            vm.set_ylabel("voltage (pu)")
        if col(".soc"):
            soc.legend(fontsize=7)
    fig.suptitle(f"test day {day}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
