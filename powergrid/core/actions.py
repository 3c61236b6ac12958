"""Actions in, rewards out: the checks and formulas the single and the batched env share.

Actions arrive per agent (a dict), or for a batch as ``(B, act_dim)`` per agent, one ``(B,
n_agents, act_dim)`` array or the joint ``(B, total_dim)``; they leave as one flat float64
vector (a batch: one row per copy), clipped into the action space, with per-agent flags.
NaN or infinite entries, non-whole discrete entries and wrong shapes raise ``ValueError``
naming the agent (and the copy).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from heron.core.action import all_finite
from powergrid.core.layout import Layout

__all__ = ["clip_actions", "gather_actions", "gather_batch", "read_batch", "flags_by_agent", "rewards"]


def clip_actions(raw: np.ndarray, bounds: tuple[np.ndarray, ...], out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Flat actions (the last axis) clipped into the action space, and per agent whether any of
    its entries lay outside the space (see :func:`powergrid.core.layout.action_bounds`)."""
    low, high, flag_low, flag_high, segments = bounds
    clipped = np.clip(raw, low, high, out=out)
    return clipped, flags_by_agent((raw < flag_low) | (raw > flag_high), segments)


def flags_by_agent(entries: np.ndarray, segments: tuple[np.ndarray, np.ndarray, bool]) -> np.ndarray:
    """Per agent (the last axis cut into ``segments``: starts, ends, and whether every agent has
    entries; see :func:`powergrid.core.layout.action_bounds`): whether any of its entries is
    set. An agent without action entries (a microgrid with nothing to command) has none set."""
    starts, ends, every_agent_acts = segments
    if every_agent_acts and entries.shape[-1]:  # the common case: one reduction
        return np.logical_or.reduceat(entries, starts, axis=-1)
    counts = np.concatenate([np.zeros(entries.shape[:-1] + (1,), np.int64), np.cumsum(entries, axis=-1)], axis=-1)
    return counts[..., ends] > counts[..., starts]


def _agents_at(columns: Any, layout: Layout, agent_ids: Sequence[str]) -> list[str]:
    return sorted({agent_ids[int(np.searchsorted(layout.action_offsets, c, side="right")) - 1] for c in np.ravel(columns)})


def _check_values(raw: np.ndarray, layout: Layout, agent_ids: Sequence[str]) -> None:
    """NaN and infinity, and discrete entries that are not whole numbers, raise naming the agents."""
    if not (all_finite(raw) if raw.ndim == 1 else np.isfinite(raw).all()):
        copies, columns = np.nonzero(~np.isfinite(np.atleast_2d(raw)))
        which = f"copies {sorted(set(copies.tolist()))[:10]}, " if raw.ndim == 2 else ""
        raise ValueError(f"{which}agent(s) {_agents_at(columns, layout, agent_ids)}: action contains NaN or inf")
    if layout.discrete_positions.size:
        d = raw[..., layout.discrete_positions]
        bad = d != np.round(d)
        if np.any(bad):
            columns = layout.discrete_positions[np.nonzero(bad)[-1]]
            raise ValueError(f"agent(s) {_agents_at(columns, layout, agent_ids)}: discrete action entries must be whole "
                             f"numbers, got {d.tolist()}")


def gather_actions(actions: Mapping[str, Any], agent_ids: Sequence[str], live: Sequence[str], layout: Layout,
                   out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One env's actions (a dict over the ``live`` agents) as the clipped flat vector and flags."""
    if not isinstance(actions, Mapping):
        raise ValueError(f"actions must be a dict of agent id -> action, got {type(actions).__name__}")
    _require_keys(actions, live, "live agent")
    offsets = layout.action_offsets
    for k, agent_id in enumerate(agent_ids):
        value = actions[agent_id]
        if isinstance(value, Mapping):  # Dict spaces (mixed continuous/discrete)
            value = np.concatenate([np.ravel(value.get("c", ())), np.ravel(value.get("d", ()))])
        if type(value) is np.ndarray and value.dtype.kind in "biuf":
            arr = value
        else:
            arr = _numbers(value, f"agent {agent_id!r}: action")
        lo, hi = offsets[k], offsets[k + 1]
        if arr.ndim != 1 or arr.shape[0] != hi - lo:
            if arr.size == hi - lo and arr.ndim == 0:
                arr = arr.reshape(1)
            else:
                raise ValueError(f"agent {agent_id!r}: action has shape {arr.shape}, expected ({hi - lo},)")
        out[lo:hi] = arr
    _check_values(out, layout, agent_ids)
    return clip_actions(out, layout.action_bounds)


def _numbers(value: Any, what: str) -> np.ndarray:
    """``value`` as float64 numbers; complex values, text, objects and integers beyond a float's
    range raise ``ValueError`` naming ``what``."""
    if np.iscomplexobj(value):
        raise ValueError(f"{what} must hold real numbers, got {value!r}")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} must hold numbers, got {value!r}") from None


def _require_keys(actions: Mapping[str, Any], ids: Sequence[str], what: str) -> None:
    """``actions`` has one entry per id of ``ids``, no more (a set check: a thousand agents)."""
    if len(actions) != len(ids) or not all(a in actions for a in ids):
        known = set(ids)
        missing = [a for a in ids if a not in actions]
        extra = [a for a in actions if a not in known]
        raise ValueError(f"actions must have one entry per {what} {list(ids)}; missing {missing}, unexpected {extra}")


def gather_batch(actions: Mapping[str, Any] | np.ndarray, agent_ids: Sequence[str], layout: Layout, raw: np.ndarray,
                 out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A batch's actions as clipped ``(B, total_dim)`` rows (in ``out``) and ``(B, n_agents)`` flags."""
    return clip_actions(read_batch(actions, agent_ids, layout, raw), layout.action_bounds, out=out)


def read_batch(actions: Mapping[str, Any] | np.ndarray, agent_ids: Sequence[str], layout: Layout, raw: np.ndarray) -> np.ndarray:
    """A batch's actions as checked ``(B, total_dim)`` rows in ``raw``, not yet clipped."""
    B, offsets = raw.shape[0], layout.action_offsets
    if isinstance(actions, Mapping):
        _require_keys(actions, agent_ids, "agent")
        for k, agent in enumerate(agent_ids):
            value = _numbers(actions[agent], f"agent {agent!r}: actions")
            dim = offsets[k + 1] - offsets[k]
            if value.shape == (B,) and dim == 1:
                value = value[:, None]
            if value.shape != (B, dim):
                raise ValueError(f"agent {agent!r}: actions have shape {value.shape}, expected ({B}, {dim})")
            raw[:, offsets[k]:offsets[k + 1]] = value
    else:
        value = _numbers(actions, "actions")
        dims = np.diff(offsets)
        if value.ndim == 3 and value.shape[:2] == (B, len(dims)) and np.all(dims == value.shape[2]):
            raw[:] = value.reshape(B, -1)
        elif value.shape == raw.shape:
            raw[:] = value
        else:
            same = f" or ({B}, {len(dims)}, {dims[0]})" if np.all(dims == dims[0]) else ""
            raise ValueError(f"actions have shape {value.shape}; expected a dict of ({B}, act_dim) arrays, ({B}, {raw.shape[1]}){same}")
    _check_values(raw, layout, agent_ids)
    return raw


def rewards(cost: np.ndarray, safety: np.ndarray, converged: Any, config: Mapping[str, Any],
            given: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reward = -(cost + penalty · safety) per agent (the last axis), or the ``given`` rewards (an
    earlier-style env's own); a copy whose power flow did not converge gets
    ``convergence_failure_reward`` and ``convergence_failure_safety`` added to its safety; with
    ``share_reward`` every agent gets the mean. Returns (rewards, safety)."""
    reward = -(cost + config["penalty"] * safety) if given is None else given
    if converged is not True:  # one env that converged is the common case: no masks
        ok = np.asarray(converged)[..., None]
        reward = np.where(ok, reward, float(config["convergence_failure_reward"]))
        safety = np.where(ok, safety, safety + config["convergence_failure_safety"])
    if config["share_reward"]:
        reward = np.broadcast_to(reward.mean(axis=-1, keepdims=True), reward.shape)
    return reward, safety
