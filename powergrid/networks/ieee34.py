"""IEEE 34-node test feeder (24.9 kV), as a balanced positive-sequence pandapower model.

Long, lightly loaded rural feeder. Topology, lengths, loads and capacitors follow the IEEE PES
test-feeder data (distributed loads at the far node of their segment, three-phase totals);
the two step-voltage regulators (814-850, 852-832) are 1:1 transformers with an on-load tap
changer (±16 steps of 0.625 %), at +10 and +8 steps by default (full load; lighter loading
wants less boost), and XF-1 (500 kVA, 24.9/4.16 kV) feeds 888-890.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from powergrid.networks._feeder import LineConfig, add_regulator, build_feeder, standalone

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["IEEE34Bus", "build_ieee34", "IEEE34_NODES"]

IEEE34_NODES = (
    "800", "802", "806", "808", "810", "812", "814", "850", "816", "818", "820", "822", "824", "826",
    "828", "830", "854", "856", "852", "832", "858", "864", "834", "842", "844", "846", "848", "860",
    "836", "840", "862", "838", "888", "890",
)
CONFIGS = {
    "300": LineConfig(0.7001, 0.4700, 8.0, 0.23),
    "301": LineConfig(1.0546, 0.4768, 7.5, 0.18),
    "302": LineConfig(1.7396, 0.9231, 6.0, 0.14),
    "303": LineConfig(1.7396, 0.9231, 6.0, 0.14),
    "304": LineConfig(1.1942, 0.8831, 6.0, 0.18),
}
LINES = (
    ("800", "802", 2580, "300"), ("802", "806", 1730, "300"), ("806", "808", 32230, "300"),
    ("808", "810", 5804, "303"), ("808", "812", 37500, "300"), ("812", "814", 29730, "300"),
    ("850", "816", 310, "301"), ("816", "818", 1710, "302"), ("816", "824", 10210, "301"),
    ("818", "820", 48150, "302"), ("820", "822", 13740, "302"), ("824", "826", 3030, "303"),
    ("824", "828", 840, "301"), ("828", "830", 20440, "301"), ("830", "854", 520, "301"),
    ("854", "856", 23330, "303"), ("854", "852", 36830, "301"), ("832", "858", 4900, "301"),
    ("858", "864", 1620, "303"), ("858", "834", 5830, "301"), ("834", "842", 280, "301"),
    ("842", "844", 1350, "301"), ("844", "846", 3640, "301"), ("846", "848", 530, "301"),
    ("834", "860", 2020, "301"), ("860", "836", 2680, "301"), ("836", "840", 860, "301"),
    ("836", "862", 280, "301"), ("862", "838", 4860, "304"), ("888", "890", 10560, "300"),
)
LOADS = {  # kW, kvar: spot loads plus each distributed load at its segment's far node
    "806": (55, 29), "810": (16, 8), "820": (34, 17), "822": (135, 70), "824": (5, 2), "826": (40, 20),
    "828": (4, 2), "830": (52, 23), "856": (4, 2), "858": (15, 7), "864": (2, 1), "834": (32, 17),
    "860": (234, 154), "836": (82, 43), "840": (67, 43), "838": (28, 14), "844": (414, 320),
    "846": (45, 23), "848": (83, 59), "890": (450, 225),
}
CAPACITORS = {"844": 300, "848": 450}
REGULATORS = (("814", "850"), ("852", "832"))
DEFAULT_REGULATOR_TAPS = (10, 8)  # boost in steps of 0.625 %


def build_ieee34(net: pp.pandapowerNet, name: str, load_scale: float = 1.0,
                 regulator_taps: tuple[int, int] = DEFAULT_REGULATOR_TAPS) -> dict[str, int]:
    """Add the feeder's buses and elements to ``net``; returns node name -> bus index.
    Nothing feeds node 800: the caller adds the source."""
    import pandapower as pp
    if len(regulator_taps) != 2:
        raise ValueError(f"regulator_taps must be two tap steps in [-16, 16], got {regulator_taps!r}")
    node_kv = {n: 4.16 if n in ("888", "890") else 24.9 for n in IEEE34_NODES}
    buses = build_feeder(net, name, node_kv, LINES, CONFIGS, LOADS, CAPACITORS, load_scale)
    for (a, b), tap in zip(REGULATORS, regulator_taps):
        add_regulator(net, name, buses, a, b, tap, sn_mva=2.5, vk_percent=1.0, vkr_percent=0.1)
    pp.create_transformer_from_parameters(
        net, buses["832"], buses["888"], sn_mva=0.5, vn_hv_kv=24.9, vn_lv_kv=4.16, vk_percent=4.07,
        vkr_percent=1.9, pfe_kw=0.0, i0_percent=0.0, name=f"{name} XF-1",
    )
    return buses


def IEEE34Bus(name: str = "IEEE34") -> pp.pandapowerNet:
    """The standalone feeder, fed at node 800 by an external grid at 1.05 pu."""
    return standalone(name, build_ieee34, "800")
