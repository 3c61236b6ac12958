"""Shared helpers for building balanced (positive-sequence) feeder models in pandapower."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

if TYPE_CHECKING:
    import pandapower as pp


FT_TO_KM = 0.0003048


@dataclass(frozen=True)
class LineConfig:
    """Positive-sequence line parameters: Ω/km, nF/km and ampacity (kA)."""

    r_ohm_per_km: float
    x_ohm_per_km: float
    c_nf_per_km: float
    max_i_ka: float


def add_line(net: pp.pandapowerNet, name: str, buses: dict[str, int], a: str, b: str, length_ft: float,
             config: LineConfig) -> int:
    import pandapower as pp
    return pp.create_line_from_parameters(
        net, buses[a], buses[b], length_km=length_ft * FT_TO_KM, r_ohm_per_km=config.r_ohm_per_km,
        x_ohm_per_km=config.x_ohm_per_km, c_nf_per_km=config.c_nf_per_km, max_i_ka=config.max_i_ka,
        name=f"{name} Line {a}-{b}",
    )


def add_loads(net: pp.pandapowerNet, name: str, buses: dict[str, int], loads_kw_kvar: dict[str, tuple[float, float]],
              scale: float = 1.0) -> None:
    import pandapower as pp
    for node, (kw, kvar) in loads_kw_kvar.items():
        pp.create_load(net, buses[node], p_mw=kw * 1e-3 * scale, q_mvar=kvar * 1e-3 * scale, name=f"{name} Load {node}")


def add_capacitors(net: pp.pandapowerNet, name: str, buses: dict[str, int], caps_kvar: dict[str, float],
                   scale: float = 1.0) -> None:
    import pandapower as pp
    for node, kvar in caps_kvar.items():  # pandapower shunts absorb positive q: a capacitor is negative
        pp.create_shunt(net, buses[node], q_mvar=-kvar * 1e-3 * scale, p_mw=0.0, name=f"{name} Cap {node}")


def add_regulator(net: pp.pandapowerNet, name: str, buses: dict[str, int], a: str, b: str, tap: int,
                  sn_mva: float, vk_percent: float, vkr_percent: float) -> int:
    """A step-voltage regulator from ``a`` to ``b``: a 1:1 transformer whose on-load tap changer,
    on the ``a`` side, boosts ``b`` by 1 / (1 - 0.625 % * tap) (±16 steps, the usual 32-step regulator)."""
    import pandapower as pp
    if not -16 <= int(tap) <= 16:
        raise ValueError(f"regulator {a}-{b}: tap must be a step in [-16, 16], got {tap!r}")
    kv = float(net.bus.vn_kv.at[buses[a]])
    return pp.create_transformer_from_parameters(
        net, buses[a], buses[b], sn_mva=sn_mva, vn_hv_kv=kv, vn_lv_kv=kv, vk_percent=vk_percent,
        vkr_percent=vkr_percent, pfe_kw=0.0, i0_percent=0.0, tap_side="hv", tap_neutral=0, tap_min=-16,
        tap_max=16, tap_step_percent=0.625, tap_pos=-int(tap), tap_changer_type="Ratio",
        name=f"{name} Regulator {a}-{b}",
    )


def regulator_trafos(net: pp.pandapowerNet, name: str) -> list[int]:
    """The transformer rows of the regulators of operator network ``name``: those ``add_regulator``
    added (``"<name> Regulator a-b"``) and, in a network of many feeders, the feeders' and the
    substations' (``"<name> F3 Regulator a-b"``, ``"<name> S1 Regulator HV-800"``)."""
    return [int(i) for i, label in zip(net.trafo.index, net.trafo.name)
            if isinstance(label, str) and label.startswith(f"{name} ") and " Regulator " in f" {label[len(name) + 1:]}"]


def require_name(name: object, what: str = "a network name (it prefixes every element name)") -> None:
    """Network and microgrid names prefix element names (and name agents): non-empty strings."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} must be a non-empty string, got {name!r}")


def build_feeder(net: pp.pandapowerNet, name: str, node_kv: Mapping[str, float],
                 lines: Sequence[tuple[str, str, float, str]], configs: Mapping[str, LineConfig],
                 loads: Mapping[str, tuple[float, float]], capacitors: Mapping[str, float],
                 load_scale: float = 1.0) -> dict[str, int]:
    """Buses (node -> kV), lines (from, to, feet, configuration), loads and capacitors of a
    feeder; transformers are the caller's. Returns node -> bus index."""
    import pandapower as pp
    require_name(name)
    buses = {n: pp.create_bus(net, vn_kv=kv, name=f"{name} Bus {n}") for n, kv in node_kv.items()}
    for a, b, feet, config in lines:
        add_line(net, name, buses, a, b, feet, configs[config])
    add_loads(net, name, buses, loads, load_scale)
    add_capacitors(net, name, buses, capacitors, load_scale)
    return buses


def standalone(name: str, build: Callable[[pp.pandapowerNet, str], dict[str, int]], source: str,
               vm_pu: float = 1.05) -> pp.pandapowerNet:
    """A feeder on its own, fed at ``source`` by an external grid."""
    import pandapower as pp
    net = pp.create_empty_network(name=name)
    buses = build(net, name)
    pp.create_ext_grid(net, buses[source], vm_pu=vm_pu, name=f"{name} Source")
    return net
