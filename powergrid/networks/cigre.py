"""CIGRE low-voltage benchmark network (pandapower's model), with names prefixed by the net's name."""
from __future__ import annotations

from typing import TYPE_CHECKING

from powergrid.networks._feeder import require_name

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["CIGRE_LV", "prefix_names"]


def prefix_names(net: pp.pandapowerNet, name: str) -> pp.pandapowerNet:
    """Prefix every element name with ``name`` so nets can be fused without clashes."""
    for table in ("bus", "line", "trafo", "load", "sgen", "gen", "storage", "shunt", "ext_grid", "switch"):
        df = net[table]
        if len(df) and "name" in df:
            df["name"] = [f"{name} {n}" if isinstance(n, str) and n else f"{name} {table} {i}" for i, n in zip(df.index, df["name"])]
    return net


def fuse_closed_bus_switches(net: pp.pandapowerNet) -> pp.pandapowerNet:
    """Merge the two buses of every closed bus-bus switch (solvers ignore switches)."""
    import pandapower as pp
    for sw in net.switch[(net.switch.et == "b") & net.switch.closed].itertuples():
        pp.toolbox.fuse_buses(net, sw.bus, {sw.element})
    net.switch.drop(net.switch[net.switch.et == "b"].index, inplace=True)
    return net


def CIGRE_LV(name: str = "CIGRE_LV") -> pp.pandapowerNet:
    """CIGRE LV European benchmark (residential, industrial and commercial feeders); its
    bus-bus switches are closed in the benchmark and are fused here."""
    import pandapower.networks as pn
    require_name(name)
    net = fuse_closed_bus_switches(pn.create_cigre_network_lv())
    net.name = name
    return prefix_names(net, name)
