"""A trace of what happened in an episode, to read, plot or save: per step, every agent's
observation entries by name (device dispatch, state of charge, load, import, price, bus
voltages), its reward, cost and safety, and the action its devices delivered.

    env = TraceRecorder(MultiAgentMicrogrids({"setup": "ieee34_ieee13"}))
    obs, _ = env.reset(options={"day": 0})
    while env.agents:
        obs, *_ = env.step(policy(obs))
    frame = env.frame()          # a pandas DataFrame, one row per step
    env.save("day0.csv")         # or .npz (or .parquet with pyarrow installed)

A column is ``"<agent>/<entry>"`` (e.g. ``"MG1/ess_1.soc"``, ``"MG1/price"``,
``"MG1/reward"``, ``"MG1/delivered[0]"``); ``episode``, ``day``, ``step`` and ``hour`` (of
the day) index the rows. Recording costs a Python loop per step: it is a tool for looking,
not for training.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["TraceRecorder"]

SCALARS = ("reward", "cost", "safety", "converged", "action_limited")


class TraceRecorder:
    """Wraps a PowerGrid ParallelEnv; everything but ``reset`` and ``step`` passes through."""

    def __init__(self, env: NetworkedGridEnv) -> None:
        self.env = env
        self.rows: list[dict[str, float]] = []
        self._names = {a: env.observation_names(a) for a in env.possible_agents}
        self._episode = -1

    def __getattr__(self, name: str) -> Any:
        if name == "env":  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.env, name)

    def reset(self, seed: int | None = None, options: Mapping[str, Any] | None = None):
        out = self.env.reset(seed=seed, options=options)
        self._episode += 1
        return out

    def step(self, actions: Mapping[str, Any]):
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        core = self.env.core
        hour = int(core.start_hour) + int(core.t) - 1
        row: dict[str, float] = {"episode": self._episode, "day": self.env.episode_day, "step": int(core.t), "hour": hour % 24}
        for a in self.env.possible_agents:
            if a not in obs:
                continue
            row.update({f"{a}/{n.split(' [')[0]}": float(v) for n, v in zip(self._names[a], obs[a])})
            row[f"{a}/reward"] = float(rewards[a])
            for key in SCALARS[1:]:
                row[f"{a}/{key}"] = float(infos[a][key])
            row.update({f"{a}/delivered[{k}]": float(v) for k, v in enumerate(np.ravel(infos[a]["delivered_action"]))})
        self.rows.append(row)
        return obs, rewards, terminations, truncations, infos

    def frame(self):
        """The trace so far as a pandas DataFrame, one row per step."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def save(self, path: str | Path) -> Path:
        """Write the trace as ``.csv``, ``.npz`` (one array per column) or ``.parquet``."""
        path = Path(path)
        frame = self.frame()
        if path.suffix == ".csv":
            frame.to_csv(path, index=False)
        elif path.suffix == ".npz":
            np.savez(path, **{c: frame[c].to_numpy() for c in frame.columns})
        elif path.suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            raise ValueError(f"a trace is saved as .csv, .npz or .parquet, got {str(path)!r}")
        return path

    def clear(self) -> None:
        """Forget the rows recorded so far."""
        self.rows.clear()
