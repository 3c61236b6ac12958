"""The least and most each observation entry can be, from the data and the device ratings.

Observation spaces with finite bounds let vector wrappers rescale them (SuperSuit's
``normalize_obs_v0``) and a shared policy see every agent on one scale. Each bound is what
the physics allows, not what was seen:

- a device's observed state (:func:`observed_range`): an action's bounds, and 0; a state of
  charge within [0, 1]; a plant's output that is no action within [0, p_max];
- ``load_p``: the least and most the microgrid's loads draw over every hour of both splits;
- ``p_import``: the load's range widened by everything its devices can inject or draw, and a
  quarter for the losses of its feeder;
- ``price``: the data's least and most over both splits; ``hour_sin``, ``hour_cos``: [-1, 1];
- bus voltages: [0.5, 1.5] pu (a power flow that far out has not converged);
- tap positions and capacitor steps: their range.

Agents whose observations hold the same quantities in the same order (the same device types,
as many buses) share one space, the union of their bounds: vector wrappers that stack agents
(SuperSuit's) need equal spaces.
"""
from __future__ import annotations

import numpy as np

from powergrid.agents.fleets import Fleet
from powergrid.core.layout import Layout
from powergrid.core.model import GridModel

__all__ = ["observation_bounds", "observed_range"]

VM_RANGE = (0.5, 1.5)
LOSS_MARGIN = 0.25


def observed_range(fleet: Fleet, attribute: str) -> tuple[np.ndarray, np.ndarray]:
    """The least and most each device of ``fleet`` can show of its ``attribute`` (unbounded
    where nothing says: a device type of your own may observe anything)."""
    if attribute in fleet.ACTION:
        lo, hi = fleet.BOUNDS[fleet.ACTION.index(attribute)]
        return np.minimum(getattr(fleet, lo), 0.0), np.maximum(getattr(fleet, hi), 0.0)
    if attribute == "soc":
        return np.zeros(fleet.size), np.ones(fleet.size)
    if attribute == "p" and hasattr(fleet, "p_max"):
        return np.zeros(fleet.size), np.asarray(fleet.p_max, dtype=float).copy()
    return np.full(fleet.size, -np.inf), np.full(fleet.size, np.inf)


def observation_bounds(model: GridModel, layout: Layout) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per agent (layout order), float32 low and high of each observation entry."""
    n = len(model.microgrids)
    low, high = [], []
    reach = np.zeros(n)  # per microgrid: the most its devices can inject or draw (MW)
    for kind, fleet in model.fleets.items():
        for _, attribute, power in fleet.OBSERVED:
            lo, hi = observed_range(fleet, attribute)
            low.append(lo)
            high.append(hi)
            if power and kind in layout.owners:
                reach += layout.owners[kind].sum(np.maximum(np.abs(lo), np.abs(hi)))
    load_low, load_high = _load_range(model, layout)
    swing = reach + LOSS_MARGIN * np.maximum(np.abs(load_low), np.abs(load_high)) + 1e-3
    price = np.concatenate([model.profiles[split][:, model.price_series] for split in model.profiles])
    discrete_low = layout.disc_offset + layout.action_low[layout.discrete_positions]
    discrete_high = layout.disc_offset + layout.action_high[layout.discrete_positions]
    low += [load_low, load_low - swing, [price.min(), -1.0, -1.0], np.full(layout.n_bus, VM_RANGE[0]), discrete_low]
    high += [load_high, load_high + swing, [price.max(), 1.0, 1.0], np.full(layout.n_bus, VM_RANGE[1]), discrete_high]
    source_low, source_high = np.concatenate(low), np.concatenate(high)
    bounds = [(source_low[index] * scale, source_high[index] * scale) for index, scale in zip(layout.obs_index, layout.obs_scale)]
    groups: dict[tuple, list[int]] = {}  # agents whose entries are the same quantities in the same order
    for k, entries in enumerate(layout.obs_layout):
        groups.setdefault(tuple((name.split(".")[-1], unit) for name, unit in entries), []).append(k)
    out: list[tuple[np.ndarray, np.ndarray]] = [None] * n  # type: ignore[list-item]
    for members in groups.values():
        lo = np.min([bounds[k][0] for k in members], axis=0)
        hi = np.max([bounds[k][1] for k in members], axis=0)
        lo = np.where(lo == 0.0, 0.0, np.nextafter(lo.astype(np.float32), np.float32(-np.inf)))  # float32 observations stay inside
        hi = np.where(hi == 0.0, 0.0, np.nextafter(hi.astype(np.float32), np.float32(np.inf)))
        for k in members:
            out[k] = (lo.astype(np.float32), hi.astype(np.float32))
    return out


def _load_range(model: GridModel, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Per agent, the least and most its loads draw in any hour of either split (MW). Each
    agent's loads are summed by profile column first, so the work is hours x (agent, column)
    pairs, not hours x loads."""
    owner, n = layout.load_owner, len(model.microgrids)
    mine = owner < n
    pairs, where = np.unique(np.stack([owner[mine], model.load_series[mine]]), axis=1, return_inverse=True)
    weight = np.bincount(where.ravel(), layout.load_p_mw[mine], minlength=pairs.shape[1])
    agents, first = np.unique(pairs[0], return_index=True)  # pairs come sorted by agent
    low, high = np.full(n, np.inf), np.full(n, -np.inf)
    for profiles in model.profiles.values():
        for start in range(0, len(profiles), 1024):  # a block of hours at a time: memory stays small
            load = np.zeros((min(1024, len(profiles) - start), n))  # an agent without loads draws 0
            if agents.size:
                load[:, agents] = np.add.reduceat(profiles[start:start + 1024, pairs[1]] * weight, first, axis=1)
            low, high = np.minimum(low, load.min(axis=0)), np.maximum(high, load.max(axis=0))
    return low, high
