"""How a policy degrades when messages are late or lost: ``python -m powergrid robustness``.

Each cell of a grid of latency and loss settings runs the same test days in distributed mode
on a :class:`~heron.messaging.faults.FaultyBroker` (every channel kind alike: latency with a
normal jitter against a deadline, and loss), with silent sites held at what the env last
heard (``silent_site='hold'``). A site that misses its command holds its last setpoint; a
device or report that misses the env is held at its last. Per day: the return, cost and
safety of the policy (the rule-based controllers by default), and the share of site-steps
that were stale.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from heron.messaging import InMemoryBroker
from heron.messaging.faults import Faults, FaultyBroker
from powergrid.agents.policies import RuleBasedPolicy
from powergrid.envs import MultiAgentMicrogrids
from powergrid.plotting import pyplot

#: What the robustness plot is called when matplotlib is missing.
ROBUSTNESS_PLOT = "the robustness plot"

__all__ = ["Cell", "sweep", "write_table", "plot", "format_table"]


@dataclass(frozen=True)
class Cell:
    """One setting's result, per day (sums over the microgrids)."""

    latency: float
    loss: float
    return_: float
    cost: float
    safety: float
    stale: float  # share of site-steps held at their last command, results or report


def run_cell(latency: float, loss: float, days: int, deadline: float = 1.0, jitter: float = 0.2, seed: int = 0,
             config: Mapping[str, Any] | None = None,
             policies: Callable[[MultiAgentMicrogrids], Mapping[str, Callable[[np.ndarray], np.ndarray]]] | None = None) -> Cell:
    """The policy under ``latency`` (s, with a normal jitter of ``jitter`` × latency) and ``loss``,
    against ``deadline`` (s), over the first ``days`` test days."""
    faults = Faults(latency=latency, jitter=jitter * latency, loss=loss, deadline=deadline)
    env = MultiAgentMicrogrids({**(config or {}), "centralized": False, "train": False, "silent_site": "hold",
                                "message_broker": FaultyBroker(InMemoryBroker(), faults, seed=seed)})
    act = policies(env) if policies is not None else {a: RuleBasedPolicy(agent) for a, agent in env.agent_dict.items()}
    totals, stale, steps = np.zeros(3), 0, 0
    for day in range(days):
        obs, _ = env.reset(options={"day": day})
        while env.agents:
            obs, rewards, _, _, infos = env.step({a: act[a](obs[a]) for a in env.agents})
            totals += [sum(rewards.values()), sum(i["cost"] for i in infos.values()), sum(i["safety"] for i in infos.values())]
            stale += sum(i["stale"] for i in infos.values())
            steps += len(infos)
    env.close()
    return Cell(latency, loss, *(totals / days), stale / steps)


def sweep(latencies: Iterable[float], losses: Iterable[float], days: int = 2, progress: Callable[[Cell], None] | None = None,
          **settings: Any) -> list[Cell]:
    """Every (latency, loss) pair (see :func:`run_cell` for ``settings``)."""
    cells = []
    for latency in latencies:
        for loss in losses:
            cells.append(run_cell(latency, loss, days, **settings))
            if progress is not None:
                progress(cells[-1])
    return cells


def format_table(cells: Sequence[Cell]) -> str:
    lines = [f"{'latency s':>9} {'loss':>6} {'return':>10} {'cost':>10} {'safety':>8} {'stale':>7}"]
    lines += [f"{c.latency:>9.2f} {c.loss:>6.2f} {c.return_:>10.2f} {c.cost:>10.2f} {c.safety:>8.3f} {c.stale:>7.1%}" for c in cells]
    return "\n".join(lines)


def write_table(cells: Sequence[Cell], path: str | os.PathLike) -> None:
    """One row per setting; the column ``return`` is the field ``return_`` (a Python keyword)."""
    rows = [{name.rstrip("_"): value for name, value in asdict(c).items()} for c in cells]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot(cells: Sequence[Cell], path: str | os.PathLike, title: str = "") -> None:
    """Return, cost, safety and stale share against loss, a line per latency (a PNG)."""
    plt = pyplot(ROBUSTNESS_PLOT)
    figure, axes = plt.subplots(1, 4, figsize=(16, 4), constrained_layout=True)
    for latency in sorted({c.latency for c in cells}):
        row = sorted((c for c in cells if c.latency == latency), key=lambda c: c.loss)
        for ax, (field, label) in zip(axes, (("return_", "return per day"), ("cost", "cost per day ($)"),
                                             ("safety", "safety violations per day"), ("stale", "stale share of site-steps"))):
            ax.plot([c.loss for c in row], [getattr(c, field) for c in row], marker="o", label=f"latency {latency:g} s")
            ax.set_xlabel("message loss probability")
            ax.set_title(label)
    axes[0].legend()
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=100)
    plt.close(figure)
