"""IEEE 13-node test feeder (4.16 kV), as a balanced positive-sequence pandapower model.

Topology, lengths, spot and distributed loads and capacitors follow the IEEE PES test-feeder
data; each line configuration is reduced to its positive-sequence impedance, loads to their
three-phase totals. The 671-692 switch is a 10 ft line of the main configuration (the solver
ignores switches), the distributed 632-671 load sits at node 670, and XFM-1 (500 kVA,
4.16/0.48 kV) feeds node 634.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from powergrid.networks._feeder import LineConfig, build_feeder, standalone

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["IEEE13Bus", "build_ieee13", "IEEE13_NODES"]

IEEE13_NODES = ("650", "632", "670", "671", "680", "633", "634", "645", "646", "692", "675", "684", "611", "652")

CONFIGS = {
    "601": LineConfig(0.1183, 0.3208, 11.0, 0.73),
    "602": LineConfig(0.3695, 0.4709, 9.0, 0.34),
    "603": LineConfig(0.6977, 0.5518, 8.0, 0.23),
    "604": LineConfig(0.6977, 0.5518, 8.0, 0.23),
    "605": LineConfig(0.8259, 0.8373, 7.0, 0.23),
    "606": LineConfig(0.2977, 0.2569, 160.0, 0.26),
    "607": LineConfig(0.8342, 0.3184, 55.0, 0.165),
}
LINES = (  # from, to, feet, configuration
    ("650", "632", 2000, "601"), ("632", "670", 667, "601"), ("670", "671", 1333, "601"),
    ("671", "680", 1000, "601"), ("632", "633", 500, "602"), ("632", "645", 500, "603"),
    ("645", "646", 300, "603"), ("692", "675", 800, "606"), ("671", "684", 300, "604"),
    ("684", "611", 300, "605"), ("684", "652", 800, "607"), ("671", "692", 10, "601"),
)
LOADS = {  # kW, kvar (three-phase totals)
    "634": (400, 290), "645": (170, 125), "646": (230, 132), "652": (128, 86), "671": (1155, 660),
    "675": (843, 462), "692": (170, 151), "611": (170, 80), "670": (200, 116),
}
CAPACITORS = {"675": 600, "611": 100}  # kvar


def build_ieee13(net: pp.pandapowerNet, name: str, load_scale: float = 1.0) -> dict[str, int]:
    """Add the feeder's buses and elements to ``net``; returns node name -> bus index.

    Nothing feeds node 650: the caller adds an external grid or a transformer there.
    """
    import pandapower as pp
    node_kv = {n: 0.48 if n == "634" else 4.16 for n in IEEE13_NODES}
    buses = build_feeder(net, name, node_kv, LINES, CONFIGS, LOADS, CAPACITORS, load_scale)
    pp.create_transformer_from_parameters(
        net, buses["633"], buses["634"], sn_mva=0.5, vn_hv_kv=4.16, vn_lv_kv=0.48, vk_percent=2.28,
        vkr_percent=1.1, pfe_kw=0.0, i0_percent=0.0, name=f"{name} XFM-1",
    )
    return buses


def IEEE13Bus(name: str = "IEEE13") -> pp.pandapowerNet:
    """The standalone feeder, fed at node 650 by an external grid at 1.05 pu (the substation
    regulator's typical output)."""
    return standalone(name, build_ieee13, "650")
