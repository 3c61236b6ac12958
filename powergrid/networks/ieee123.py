"""IEEE 123-node test feeder (4.16 kV), as a balanced positive-sequence pandapower model.

A larger feeder with overhead and underground lines, unbalanced loads, four step-voltage
regulators, capacitors and switches. The data (``data/ieee123.json``) is reduced from the
OpenDSS model of the IEEE PES test feeder by ``make_ieee123.py``, which says how: positive-
sequence line configurations, three-phase load totals, each regulator a 1:1 tap changer at its
phases' mean solved tap (here with at least 1 % reactance), closed switches as 10 ft lines, the
normally open ties left out, and XFM-1 (150 kVA, 4.16/0.48 kV) feeding node 610.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from powergrid.networks._feeder import LineConfig, add_regulator, build_feeder, standalone

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["IEEE123Bus", "build_ieee123", "ieee123_nodes"]

DATA = Path(__file__).with_name("data") / "ieee123.json"
# The OpenDSS regulators are near-ideal (0.001-0.01 % reactance). Off the neutral tap, so small
# an impedance makes Newton-Raphson stall (at 0.1 % it fails from 9 steps of boost); at 1 %, as
# the IEEE 34 regulators have, every tap solves.
REGULATOR_MIN_VK_PERCENT = 1.0


@lru_cache(maxsize=1)
def _data() -> dict:
    """The feeder's data, read on first use (importing the package does not read it)."""
    return json.loads(DATA.read_text())


@lru_cache(maxsize=1)
def ieee123_nodes() -> tuple[str, ...]:
    """Node names: the source 150 first, then in the order the data's branches reach them."""
    data, seen = _data(), {"150": None}
    for row in (*data["regulators"], *data["lines"]):
        seen.update(dict.fromkeys(row[:2]))
    seen.update(dict.fromkeys((data["transformer"]["hv"], data["transformer"]["lv"])))
    return tuple(seen)


def build_ieee123(net: pp.pandapowerNet, name: str, load_scale: float = 1.0,
                  regulator_taps: Sequence[int] | None = None) -> dict[str, int]:
    """Add the feeder's buses and elements to ``net``; returns node name -> bus index.
    Nothing feeds node 150: the caller adds the source. ``regulator_taps`` (150-149, 9-9r,
    25-25r, 160-160r) default to the test feeder's solved taps."""
    import pandapower as pp
    data = _data()
    regulators = data["regulators"]
    if regulator_taps is None:
        regulator_taps = [tap for _, _, tap, _, _ in regulators]
    if len(regulator_taps) != len(regulators):
        raise ValueError(f"regulator_taps must be {len(regulators)} tap steps in [-16, 16] "
                         f"(150-149, 9-9r, 25-25r, 160-160r), got {tuple(regulator_taps)!r}")
    xfm = data["transformer"]
    node_kv = {n: xfm["vn_lv_kv"] if n == xfm["lv"] else 4.16 for n in ieee123_nodes()}
    configs = {code: LineConfig(*values) for code, values in data["configs"].items()}
    buses = build_feeder(net, name, node_kv, data["lines"], configs, data["loads"], data["capacitors"], load_scale)
    for (a, b, _, sn_mva, xhl), tap in zip(regulators, regulator_taps):
        add_regulator(net, name, buses, a, b, tap, sn_mva=sn_mva, vk_percent=max(xhl, REGULATOR_MIN_VK_PERCENT),
                      vkr_percent=0.0)
    pp.create_transformer_from_parameters(
        net, buses[xfm["hv"]], buses[xfm["lv"]], sn_mva=xfm["sn_mva"], vn_hv_kv=4.16, vn_lv_kv=xfm["vn_lv_kv"],
        vk_percent=xfm["vk_percent"], vkr_percent=xfm["vkr_percent"], pfe_kw=0.0, i0_percent=0.0,
        name=f"{name} XFM-1",
    )
    return buses


def IEEE123Bus(name: str = "IEEE123") -> pp.pandapowerNet:
    """The standalone feeder, fed at node 150 by an external grid at 1.0 pu (its source
    regulator boosts from there)."""
    return standalone(name, build_ieee123, "150", vm_pu=1.0)
