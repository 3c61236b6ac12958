"""Fusing networks: microgrids hang off operator-network buses through their own transformer."""
from __future__ import annotations

import pandapower as pp

from powergrid.networks.ieee13 import build_ieee13
from powergrid.networks.ieee34 import build_ieee34
from powergrid.networks.ieee123 import build_ieee123

__all__ = ["build_operator_network", "attach_ieee13_microgrid", "MICROGRID_BUILDERS", "OPERATOR_BUILDERS"]

OPERATOR_BUILDERS = {"IEEE34": build_ieee34, "IEEE123": build_ieee123}
MICROGRID_BUILDERS = {"IEEE13": build_ieee13}
SOURCE_NODE = {"IEEE34": "800", "IEEE123": "150", "IEEE13": "650"}


def build_operator_network(kind: str, name: str, load_scale: float = 1.0, vm_pu: float = 1.05,
                           **options: object) -> tuple[pp.pandapowerNet, dict[str, int]]:
    """A fresh net holding the operator (DSO) feeder fed by an external grid; ``options`` go to
    the feeder's builder (e.g. ``regulator_taps`` for IEEE 34 and IEEE 123)."""
    if kind not in OPERATOR_BUILDERS:
        raise ValueError(f"unknown operator network {kind!r}; available: {sorted(OPERATOR_BUILDERS)}")
    net = pp.create_empty_network(name=name)
    buses = OPERATOR_BUILDERS[kind](net, name, load_scale, **options)
    pp.create_ext_grid(net, buses[SOURCE_NODE[kind]], vm_pu=vm_pu, name=f"{name} Source")
    return net, buses


def attach_ieee13_microgrid(net: pp.pandapowerNet, connection_bus: int, name: str, load_scale: float = 1.0,
                            sn_mva: float = 2.5) -> tuple[dict[str, int], int]:
    """Build an IEEE 13 microgrid named ``name`` into ``net``, fed from ``connection_bus`` by a
    transformer (operator voltage / 4.16 kV); returns its node -> bus map and the transformer index."""
    buses = build_ieee13(net, name, load_scale)
    trafo = pp.create_transformer_from_parameters(
        net, connection_bus, buses["650"], sn_mva=sn_mva, vn_hv_kv=float(net.bus.vn_kv.at[connection_bus]),
        vn_lv_kv=4.16, vk_percent=6.0, vkr_percent=1.0, pfe_kw=0.0, i0_percent=0.0, name=f"{name} Connection",
    )
    return buses, trafo
