"""Every index map of the step, compiled once from a :class:`~powergrid.core.model.GridModel`.

The flat action is the agents' actions side by side; each agent's action is its devices'
continuous entries in device order, then their discrete entries (the setpoint protocol's
split, :func:`heron.protocols.vertical.setpoint_layout`). The observation of every agent is a
gather from one source vector (see ``OBSERVATION_SOURCE``) times a scale (powers in per unit of
the microgrid's base power). Sums over an agent's devices, buses and lines are bincounts by
owner (:class:`Owners`), which work over a batch axis too.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from powergrid.agents.registry import by_kind

if TYPE_CHECKING:
    from powergrid.core.microgrids import DeviceSpec
    from powergrid.core.model import GridModel

__all__ = ["Layout", "OBSERVATION_SOURCE", "action_bounds", "UNITS"]

#: The blocks of the observation source vector, in order (n = agents, N = buses of the net).
OBSERVATION_SOURCE = ("each fleet's observed attributes (registry order)", "load_p (n)", "p_import (n)", "price", "hour_sin",
                      "hour_cos", "vm (N)", "discrete settings")
#: Units of the observed quantities that are not powers (powers are per unit of base power).
UNITS = {"soc": "fraction of capacity", "tap_pos": "tap position", "step": "capacitor steps switched in",
         "price": "$/MWh", "hour_sin": "sin(2 pi hour/24)", "hour_cos": "cos(2 pi hour/24)", "vm": "pu"}


def action_bounds(low: np.ndarray, high: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, ...]:
    """What :func:`powergrid.core.actions.clip_actions` needs: the bounds, and the bounds a value
    must cross to be flagged, and each agent's segment of the flat action. The spaces hold their bounds as float32, which round away from
    the float64 limits by up to 1e-8: an action equal to the space's own ``low`` or ``high`` is
    inside, not clipped."""
    flag_low = np.minimum(low, low.astype(np.float32).astype(np.float64))
    flag_high = np.maximum(high, high.astype(np.float32).astype(np.float64))
    offsets = np.asarray(offsets)
    segments = (offsets[:-1], offsets[1:], bool(np.all(offsets[1:] > offsets[:-1])))  # each agent's entries
    return low, high, flag_low, flag_high, segments


class Owners:
    """Which agent owns each row of a table (``n``: none, the operator) and the per-agent sum of
    a quantity over its rows (the last axis; a leading batch axis is kept). A bincount: linear
    in the rows, where a 0/1 matrix product grows with rows x agents (at a thousand
    microgrids, 18 million multiply-adds and 145 MB for the buses alone)."""

    def __init__(self, owner: np.ndarray, n: int) -> None:
        self.owner = np.asarray(owner, dtype=np.int64)
        self.n = n
        self._batched: dict[int, np.ndarray] = {}  # batch size -> the owner of each (copy, row), copies apart

    def sum(self, values: np.ndarray) -> np.ndarray:
        if values.ndim == 1:
            return np.bincount(self.owner, values, minlength=self.n + 1)[:self.n]
        batch = values.shape[0]
        where = self._batched.get(batch)
        if where is None:
            where = self._batched[batch] = (self.owner + (self.n + 1) * np.arange(batch)[:, None]).ravel()
        return np.bincount(where, values.ravel(), minlength=batch * (self.n + 1)).reshape(batch, self.n + 1)[:, :self.n]

    def mask(self, k: int) -> np.ndarray:
        """The rows agent ``k`` owns."""
        return self.owner == k


class Layout:
    """Action positions, ownership, observation gathers and discrete devices of a model.

    Per fleet kind (``model.fleets``): ``owner[kind]`` (the agent index of each row),
    ``action_pos[kind]`` (``(rows, len(ACTION))`` positions in the flat action), ``ids[kind]``
    (device names) and ``owners[kind]`` (:class:`Owners`: sums rows per agent)."""

    def __init__(self, model: GridModel) -> None:
        fleets, mgs, n = model.fleets, model.microgrids, len(model.microgrids)
        self.agent_ids = model.agent_ids
        # -------- actions
        self.owner = {kind: np.zeros(f.size, dtype=np.int64) for kind, f in fleets.items()}
        self.action_pos = {kind: np.zeros((f.size, len(f.ACTION)), dtype=np.int64) for kind, f in fleets.items()}
        self.ids = {kind: [""] * f.size for kind, f in fleets.items()}
        bounds = {kind: f.action_bounds() for kind, f in fleets.items()}
        self.discrete: list[tuple[DeviceSpec, int]] = []  # (tap changer or capacitor bank, position in the flat action)
        low, high, offsets = [], [], [0]
        for k, mg in enumerate(mgs):
            start = offsets[-1]
            c_low, c_high, d_high, c_at = [], [], [], start
            d_at = start + sum(len(fleets[d.fleet].ACTION) for d in mg.devices if d.fleet)
            for dev in mg.devices:
                if dev.fleet:
                    kind, i = dev.fleet, dev.row
                    width = self.action_pos[kind].shape[1]
                    self.owner[kind][i], self.ids[kind][i] = k, dev.name
                    self.action_pos[kind][i] = np.arange(c_at, c_at + width)
                    c_low += bounds[kind][0][i].tolist()
                    c_high += bounds[kind][1][i].tolist()
                    c_at += width
                else:
                    self.discrete.append((dev, d_at))
                    p = dev.params
                    d_high.append(p["tap_max"] - p["tap_min"] if dev.kind == "oltc" else p["max_step"])
                    d_at += 1
            low += c_low + [0.0] * len(d_high)
            high += c_high + d_high
            offsets.append(d_at)
        self.acting = [kind for kind, f in fleets.items() if f.ACTION and f.size]  # fleets a controller commands
        self.action_offsets = np.array(offsets, dtype=np.int64)
        self.action_low, self.action_high = np.array(low, dtype=float), np.array(high, dtype=float)
        self.action_bounds = action_bounds(self.action_low, self.action_high, self.action_offsets)
        self.discrete_positions = np.array([pos for _, pos in self.discrete], dtype=np.int64)
        is_tap = [d.kind == "oltc" for d, _ in self.discrete]
        self.disc_is_tap = np.array(is_tap, dtype=bool)
        self.disc_element = np.array([d.row for d, _ in self.discrete], dtype=np.int64)
        self.disc_offset = np.array([d.params["tap_min"] if t else 0 for (d, _), t in zip(self.discrete, is_tap)], dtype=float)
        self.disc_q_step = np.array([d.params["q_step_mvar"] for (d, _), t in zip(self.discrete, is_tap) if not t], dtype=float)
        self.disc_initial = np.array([d.params["tap_pos" if t else "step"] for (d, _), t in zip(self.discrete, is_tap)], dtype=float)
        # -------- ownership
        net = model.net
        #: rows of the net's bus, line and transformer tables, and its loads' base power (MW):
        #: what the step and the bounds need of the net, so a compiled model never reads it
        self.n_bus, self.n_line, self.n_trafo = len(net.bus), len(net.line), len(net.trafo)
        self.load_p_mw = net.load.p_mw.to_numpy(float)
        self.mg_trafo = np.array([mg.trafo for mg in mgs], dtype=np.int64)
        self.mg_bus = np.concatenate([mg.bus_positions for mg in mgs])
        self.mg_bus_owner = np.concatenate([np.full(len(mg.bus_positions), k) for k, mg in enumerate(mgs)])
        self.mg_line = np.concatenate([mg.line_positions for mg in mgs])
        self.mg_line_owner = np.concatenate([np.full(len(mg.line_positions), k) for k, mg in enumerate(mgs)])
        bus_owner = np.full(len(net.bus), n, dtype=np.int64)  # n: the operator's own
        bus_owner[self.mg_bus] = self.mg_bus_owner
        self.load_owner = bus_owner[net.bus.index.get_indexer(net.load.bus)]
        self.owners = {**{kind: Owners(owner, n) for kind, owner in self.owner.items()}, "bus": Owners(self.mg_bus_owner, n),
                       "line": Owners(self.mg_line_owner, n), "load": Owners(self.load_owner, n)}
        # devices without an action follow the weather: the env measures them (name, fleet kind, row)
        self.measured_of = [[(d.name, d.fleet, d.row) for d in mg.devices if d.fleet and not fleets[d.fleet].ACTION] for mg in mgs]
        self._observations(model)

    # The built-in fleets' maps by their earlier names.
    gen_owner = property(lambda self: self.owner["generator"])
    ess_owner = property(lambda self: self.owner["storage"])
    ren_owner = property(lambda self: self.owner["renewable"])
    gen_p_pos = property(lambda self: self.action_pos["generator"][:, 0])
    gen_q_pos = property(lambda self: self.action_pos["generator"][:, 1])
    ess_p_pos = property(lambda self: self.action_pos["storage"][:, 0])

    def _observations(self, model: GridModel) -> None:
        """Per agent: gather positions into the source vector, scales, and (name, unit) of each entry."""
        mgs, n = model.microgrids, len(model.microgrids)
        base, at = {}, 0
        for kind, fleet in model.fleets.items():
            for _, attribute, _ in fleet.OBSERVED:
                base[kind, attribute] = at
                at += fleet.size
        for block, width in (("load_p", n), ("p_import", n), ("price", 3), ("vm", self.n_bus), ("discrete", len(self.discrete))):
            base[block] = at
            at += width
        #: where each block of the source vector starts: ``(kind, attribute)`` of each fleet's
        #: observed attributes, then the blocks by name; ``source_size`` is its length
        self.source_at, self.source_size = dict(base), at
        discrete_row = {d.name: i for i, (d, _) in enumerate(self.discrete)}
        bus_names = model.net.bus.name.to_numpy()
        self.obs_index, self.obs_scale, self.obs_layout = [], [], []
        for k, mg in enumerate(mgs):
            idx, scale, layout = [], [], []
            inv, per_unit = 1.0 / mg.base_power, f"pu of {mg.base_power:g} MVA"
            for dev in mg.devices:
                if dev.fleet:
                    fields = [(name, base[dev.fleet, attribute] + dev.row, power)
                              for name, attribute, power in model.fleets[dev.fleet].OBSERVED]
                else:
                    fields = [(name, base["discrete"] + discrete_row[dev.name], power) for name, power in by_kind(dev.kind).observed]
                for name, position, power in fields:
                    idx.append(position)
                    scale.append(inv if power else 1.0)
                    layout.append((f"{dev.name}.{name}", per_unit if power else UNITS.get(name, "")))
            idx += [base["load_p"] + k, base["p_import"] + k, base["price"], base["price"] + 1, base["price"] + 2]
            scale += [inv, inv, 1.0, 1.0, 1.0]
            layout += [("load_p", per_unit), ("p_import", per_unit)] + [(f, UNITS[f]) for f in ("price", "hour_sin", "hour_cos")]
            idx += list(base["vm"] + mg.bus_positions)
            scale += [1.0] * len(mg.bus_positions)
            layout += [(f"{name}.vm", UNITS["vm"]) for name in bus_names[mg.bus_positions]]
            self.obs_index.append(np.array(idx, dtype=np.int64))
            self.obs_scale.append(np.array(scale))
            self.obs_layout.append(layout)
