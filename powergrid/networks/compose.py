"""Fusing networks: microgrids hang off operator-network buses through their own transformer.

The operator network is one feeder fed by an external grid at its source node, or, for a
system of many feeders, substations: a subtransmission bus (the external grid) feeding through
each substation's transformer, whose on-load tap changer is an automatic regulator like the
feeders' own, a busbar that is the source node of each of its feeders. Feeders are built once
and copied (:mod:`powergrid.networks.replicate`); feeder ``j``'s nodes are named ``"F<j>.<node>"``.
"""
from __future__ import annotations

import copy
import functools
from typing import TYPE_CHECKING

from powergrid.networks._feeder import require_name
from powergrid.networks.ieee13 import build_ieee13
from powergrid.networks.ieee34 import build_ieee34
from powergrid.networks.ieee123 import build_ieee123
from powergrid.networks.replicate import Copy, Part, append_copies

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["build_operator_network", "attach_ieee13_microgrid", "MICROGRID_BUILDERS", "OPERATOR_BUILDERS"]

OPERATOR_BUILDERS = {"IEEE34": build_ieee34, "IEEE123": build_ieee123}
MICROGRID_BUILDERS = {"IEEE13": build_ieee13}
SOURCE_NODE = {"IEEE34": "800", "IEEE123": "150", "IEEE13": "650"}


SUBTRANSMISSION_KV = 115.0
SUBSTATION_MVA_PER_FEEDER = 6.0  # each feeder's share of its substation transformer's rating


def build_operator_network(kind: str, name: str, load_scale: float = 1.0, vm_pu: float = 1.05, feeders: int | None = None,
                           feeders_per_substation: int = 8, **options: object) -> tuple[pp.pandapowerNet, dict[str, int]]:
    """A fresh net holding the operator (DSO) network and its node name -> bus map: one feeder
    fed by an external grid at ``vm_pu``, or (``feeders`` given) that many copies of it on
    substations of ``feeders_per_substation`` feeders each (see the module doc); ``options``
    go to the feeder's builder (e.g. ``regulator_taps`` for IEEE 34 and IEEE 123)."""
    import pandapower as pp
    if kind not in OPERATOR_BUILDERS:
        raise ValueError(f"unknown operator network {kind!r}; available: {sorted(OPERATOR_BUILDERS)}")
    net = empty_network(name)
    if feeders is None:
        buses = OPERATOR_BUILDERS[kind](net, name, load_scale, **options)
        pp.create_ext_grid(net, buses[SOURCE_NODE[kind]], vm_pu=vm_pu, name=f"{name} Source")
        return net, buses
    require_name(name)
    source = SOURCE_NODE[kind]
    part = empty_network(name)
    nodes = OPERATOR_BUILDERS[kind](part, name, load_scale, **options)
    feeder_kv = float(part.bus.vn_kv.at[nodes[source]])
    hv = pp.create_bus(net, vn_kv=SUBTRANSMISSION_KV, name=f"{name} Bus HV")
    pp.create_ext_grid(net, hv, vm_pu=vm_pu, name=f"{name} Source")
    busbars = []
    for s in range(-(-feeders // feeders_per_substation)):
        count = min(feeders_per_substation, feeders - s * feeders_per_substation)
        busbars.append(pp.create_bus(net, vn_kv=feeder_kv, name=f"{name} S{s + 1} Bus {source}"))
        pp.create_transformer_from_parameters(  # an on-load tap changer on the high side, as a feeder regulator's
            net, hv, busbars[-1], sn_mva=SUBSTATION_MVA_PER_FEEDER * count, vn_hv_kv=SUBTRANSMISSION_KV, vn_lv_kv=feeder_kv,
            vk_percent=8.0, vkr_percent=0.5, pfe_kw=0.0, i0_percent=0.0, tap_side="hv", tap_neutral=0, tap_min=-16,
            tap_max=16, tap_step_percent=0.625, tap_pos=0, tap_changer_type="Ratio", name=f"{name} S{s + 1} Regulator HV-{source}")
    copies = [Copy(0, f"{name} F{j + 1}", (busbars[j // feeders_per_substation],)) for j in range(feeders)]
    placed = append_copies(net, [Part(part, name, (nodes[source],))], copies)
    buses = {f"F{j + 1}.{node}": int(where.rows["bus"][bus]) for j, where in enumerate(placed) for node, bus in nodes.items()}
    return net, buses


def empty_network(name: str) -> pp.pandapowerNet:
    """An empty pandapower net named ``name`` (a copy of one made once: making one takes ~0.3 s)."""
    net = copy.deepcopy(_empty())
    net.name = name
    return net


@functools.cache
def _empty() -> pp.pandapowerNet:
    import pandapower as pp
    return pp.create_empty_network()


def attach_ieee13_microgrid(net: pp.pandapowerNet, connection_bus: int, name: str, load_scale: float = 1.0,
                            sn_mva: float = 2.5) -> tuple[dict[str, int], int]:
    """Build an IEEE 13 microgrid named ``name`` into ``net``, fed from ``connection_bus`` by a
    transformer (operator voltage / 4.16 kV); returns its node -> bus map and the transformer index."""
    import pandapower as pp
    buses = build_ieee13(net, name, load_scale)
    trafo = pp.create_transformer_from_parameters(
        net, connection_bus, buses["650"], sn_mva=sn_mva, vn_hv_kv=float(net.bus.vn_kv.at[connection_bus]),
        vn_lv_kv=4.16, vk_percent=6.0, vkr_percent=1.0, pfe_kw=0.0, i0_percent=0.0, name=f"{name} Connection",
    )
    return buses, trafo
