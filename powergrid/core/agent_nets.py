"""Reading a net an env subclass built with its controllers (the earlier package's way).

Each controller (agent) owns the buses, lines and loads whose names start with ``"<id> "``,
as pandapower names them when a net is built per microgrid and merged. What the model needs
of it: those blocks, the transformer that feeds them (the agent's import is metered there),
and its devices' configs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from powergrid.agents.registry import by_kind

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["attach_agent", "device_config_of"]


def _block(names: Any, name: str, what: str) -> slice:
    """The contiguous rows whose name starts with ``name + ' '``."""
    rows = np.flatnonzero(names.astype(str).str.startswith(f"{name} ").to_numpy())
    if rows.size == 0:
        return slice(0, 0)
    if rows[-1] - rows[0] + 1 != rows.size:
        raise ValueError(f"agent {name!r}: its {what} (named '{name} ...') must be one block in the net")
    return slice(int(rows[0]), int(rows[-1]) + 1)


def attach_agent(net: pp.pandapowerNet, name: str, load_scale: float) -> tuple[slice, slice, int]:
    """Agent ``name``'s buses and lines (row slices) and its connection transformer in ``net``
    (changed in place: its loads scaled by ``load_scale``; an external grid on its buses moved
    behind a 1:1 metering transformer of 100 MVA and 0.01 % impedance, so that its import is
    measured where every microgrid's is)."""
    import pandapower as pp
    buses = _block(net.bus.name, name, "buses")
    if buses.stop == 0:
        raise ValueError(f"agent {name!r} owns no bus of the net: its buses must be named '{name} ...'")
    own = set(net.bus.index[buses].tolist())
    feeds = [int(t) for t, hv, lv in zip(net.trafo.index, net.trafo.hv_bus, net.trafo.lv_bus) if lv in own and hv not in own]
    sources = [int(g) for g, bus in zip(net.ext_grid.index, net.ext_grid.bus) if bus in own]
    if len(feeds) + len(sources) != 1:
        raise ValueError(f"agent {name!r} must be fed at one point (a transformer from outside its buses, or its own "
                         f"external grid); found transformers {feeds} and external grids {sources}")
    if sources:
        at = int(net.ext_grid.bus.at[sources[0]])
        kv = float(net.bus.vn_kv.at[at])
        meter = pp.create_bus(net, vn_kv=kv, name=f"Source of {name}")
        net.ext_grid.loc[sources[0], "bus"] = meter
        feeds = [pp.create_transformer_from_parameters(net, meter, at, sn_mva=100.0, vn_hv_kv=kv, vn_lv_kv=kv, vk_percent=0.01,
                                                       vkr_percent=0.001, pfe_kw=0.0, i0_percent=0.0, name=f"Meter of {name}")]
    loads = net.load.bus.isin(own)
    net.load.loc[loads, ["p_mw", "q_mvar"]] *= load_scale
    return buses, _block(net.line.name, name, "lines"), int(feeds[0])


def device_config_of(device_id: str, device: Any) -> dict[str, Any]:
    """The config a device agent was made from (``PowerGridAgent``'s devices, or
    ``Generator(agent_id=..., device_config=...)``), as a microgrid config names it."""
    made = getattr(device, "parameters", None)
    if made is None:
        raise ValueError(f"device {device_id!r}: only devices made from a config (device_config=... or a grid_config's "
                         f"devices) can join a net built by _build_agents, got a {type(device).__name__}")
    kind, params = made
    return {"type": by_kind(kind).aliases[0], "name": device_id, "bus": str(device.bus), **params}
