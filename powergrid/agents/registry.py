"""The device types a microgrid config can name, each declared once.

A type says which config names select it (``"Generator"``, ``"DG"``...), which config keys it
reads (anything else is a typo and raises), how its action is laid out (continuous entries,
then discrete ones, as the setpoint protocol splits a controller's action), which state fields
its controller observes (and whether each is a power, observed in per unit of the microgrid's
base power), and what it reports after acting in distributed mode. The model builder, the
controllers' observation layout and the env's reading of device reports go through this table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["DeviceType", "DEVICE_TYPES", "device_type", "observed_fields", "COMMON_KEYS"]

#: Keys every device config may have: what it is, its name, and its bus in the microgrid.
COMMON_KEYS = frozenset({"type", "name", "bus"})


@dataclass(frozen=True)
class DeviceType:
    kind: str
    aliases: tuple[str, ...]
    keys: frozenset[str]
    action_c: int = 0
    action_d: int = 0
    observed: tuple[tuple[str, bool], ...] = ()
    reports: tuple[str, ...] = ()

    def checked(self, config: Mapping[str, Any], where: str) -> dict[str, Any]:
        """``config`` without the common keys; unknown keys raise naming the device."""
        unknown = sorted(set(config) - COMMON_KEYS - self.keys)
        if unknown:
            raise ValueError(f"{where}: device {config.get('name')!r} ({config.get('type')}): unknown key(s) {unknown}; "
                             f"valid keys: {sorted(COMMON_KEYS | self.keys)}")
        return {k: v for k, v in config.items() if k not in COMMON_KEYS}


_TYPES = (
    DeviceType("generator", ("Generator", "DG"),
               frozenset({"p_min", "p_max", "q_min", "q_max", "s_max", "pf_min", "cost"}),
               action_c=2, observed=(("P_MW", True), ("Q_MVAR", True)), reports=("P_MW", "Q_MVAR")),
    DeviceType("storage", ("ESS", "Storage"),
               frozenset({"capacity", "p_min", "p_max", "soc_init", "soc_min", "soc_max", "eff_ch", "eff_dis", "cost_per_mwh"}),
               action_c=1, observed=(("P_MW", True), ("soc", False)), reports=("P_MW",)),
    DeviceType("solar", ("PV", "Solar"), frozenset({"p_max"}), observed=(("P_MW", True),)),
    DeviceType("wind", ("Wind",), frozenset({"p_max"}), observed=(("P_MW", True),)),
    DeviceType("oltc", ("Transformer", "OLTC"), frozenset({"tap_min", "tap_max", "tap_pos", "tap_step_percent"}),
               action_d=1, observed=(("tap_pos", False),), reports=("tap_pos",)),
    DeviceType("shunt", ("Shunt",), frozenset({"q_step_mvar", "max_step", "step"}),
               action_d=1, observed=(("step", False),), reports=("step",)),
)

#: Config ``type`` name -> its device type.
DEVICE_TYPES: dict[str, DeviceType] = {alias: t for t in _TYPES for alias in t.aliases}
_BY_KIND = {t.kind: t for t in _TYPES}
#: The agent classes' ``kind`` -> the device type (a renewable agent serves solar and wind).
_AGENT_KINDS = {"generator": "generator", "storage": "storage", "renewable": "solar", "transformer": "oltc", "shunt": "shunt"}


def device_type(name: Any, device: Any = "?") -> DeviceType:
    """The type a config's ``type`` names; raises naming the device and the valid names."""
    found = DEVICE_TYPES.get(name) if isinstance(name, str) else None
    if found is None:
        raise ValueError(f"device {device!r}: unknown type {name!r}; expected one of {sorted(DEVICE_TYPES)}")
    return found


def observed_fields(agent_kind: str) -> tuple[tuple[str, bool], ...]:
    """The state fields a controller observes of a device agent of this ``kind`` (none for a
    device type of your own that is not registered)."""
    kind = _AGENT_KINDS.get(agent_kind)
    return _BY_KIND[kind].observed if kind else ()
