"""Configs written for the earlier HERON/PowerGrid, read as ours.

The earlier package named device parameters with their units (``p_max_MW``, ``e_capacity_MWh``,
``eta_ch``...), could wrap them in ``device_state_config``, and named buses as pandapower does
(``"DSO Bus 850"``, ``"Bus 671"``). Each device config in that form is translated here into
this package's keys, once, when the model is built; configs in our own keys pass unchanged,
and a key given in both forms raises. What the earlier package accepted but this one does not
model (unit commitment timings, a storage unit's reactive power) is named in a
``UserWarning``, never dropped silently. docs/compatibility.md lists every difference.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["translated_device", "node_name", "EARLIER_KEYS", "NOT_MODELLED"]

#: Per device type (config name), each earlier key -> ours.
EARLIER_KEYS: dict[str, dict[str, str]] = {
    "generator": {"p_max_MW": "p_max", "p_min_MW": "p_min", "q_max_MVAr": "q_max", "q_min_MVAr": "q_min",
                  "s_rated_MVA": "s_max", "cost_curve_coefs": "cost", "pf_min_abs": "pf_min", "min_pf": "pf_min",
                  "renewable_type": "source"},
    "storage": {"e_capacity_MWh": "capacity", "p_max_MW": "p_max", "p_min_MW": "p_min", "p_ch_max_MW": "p_max",
                "init_soc": "soc_init", "ch_eff": "eff_ch", "eta_ch": "eff_ch", "dsc_eff": "eff_dis", "eta_dsc": "eff_dis",
                "degr_cost_per_MWh": "cost_per_mwh"},
}
#: Earlier keys this package reads but does not model; they are named in a warning.
NOT_MODELLED: dict[str, frozenset[str]] = {
    "generator": frozenset({"startup_time_hr", "shutdown_time_hr", "startup_cost", "shutdown_cost", "vm_min_pu", "vm_max_pu",
                            "va_min_deg", "va_max_deg"}),
    "storage": frozenset({"q_min_MVAr", "q_max_MVAr", "s_rated_MVA", "e_throughput_MWh", "degr_cost_per_cycle",
                          "degr_cost_cum", "dt_h"}),
}
NOT_MODELLED["generator"] |= {"dt_h"}  # a device's step is the env's (one hour)
_NODE = re.compile(r"^(?:.+ )?Bus (\S+)$")


def node_name(bus: Any) -> Any:
    """``"DSO Bus 850"`` or ``"Bus 671"`` (pandapower bus names) -> the feeder node ``"850"``."""
    if isinstance(bus, str):
        match = _NODE.match(bus)
        if match:
            return match.group(1)
    return bus


def translated_device(kind: str, device: Mapping[str, Any]) -> dict[str, Any]:
    """``device`` (a config of the registered ``kind``) with earlier keys and bus names as ours."""
    if not isinstance(device, Mapping):
        return device
    flat = dict(device)
    nested = flat.pop("device_state_config", None)
    if nested is not None:
        if not isinstance(nested, Mapping):
            raise ValueError(f"device {flat.get('name')!r}: device_state_config must be a dict, got {nested!r}")
        twice = sorted(set(nested) & set(flat) - {"type"})
        if twice:
            raise ValueError(f"device {flat.get('name')!r}: {twice} given both in the device and in its device_state_config")
        flat.update({k: v for k, v in nested.items() if k != "type"})
    name = flat.get("name")
    if "bus" in flat:
        flat["bus"] = node_name(flat["bus"])
    renames = EARLIER_KEYS.get(kind, {})
    out: dict[str, Any] = {}
    for key, value in flat.items():
        ours = renames.get(key, key)
        if key == "p_dsc_max_MW" and kind == "storage":
            ours, value = "p_min", _negated(value, name, key)
        elif key == "cost_per_MWh" and kind == "generator":
            ours, value = "cost", [0.0, value, 0.0]
        elif key == "derate_frac" and kind == "generator":
            continue  # applied to p_max below
        elif key in NOT_MODELLED.get(kind, ()):
            continue
        elif key == "phase_model":
            from powergrid.utils.phase import require_balanced

            require_balanced(value, f"device {name!r}")
            continue
        if ours in out and _same(out[ours], value):
            continue  # the same value under two of its names
        if ours in out:
            raise ValueError(f"device {name!r}: {ours!r} is given twice (as {key!r} and as an earlier or our own name)")
        out[ours] = value
    if "derate_frac" in flat and "p_max" in out:
        out["p_max"] = _product(out["p_max"], flat["derate_frac"], name)
    ignored = sorted(set(flat) & NOT_MODELLED.get(kind, frozenset()))
    if ignored:
        warnings.warn(f"device {name!r}: {ignored} are not modelled here and have no effect (see docs/compatibility.md)",
                      UserWarning, stacklevel=3)
    return out


def _same(a: Any, b: Any) -> bool:
    """Whether two config values are one value (numbers or text compare; arrays never do)."""
    try:
        equal = a == b
    except ValueError:  # arrays of shapes that do not broadcast
        return False
    return isinstance(equal, (bool, np.bool_)) and bool(equal)


def _negated(value: Any, name: Any, key: str) -> Any:
    try:
        return -float(value)
    except (TypeError, ValueError):
        raise ValueError(f"device {name!r}: {key} must be a number (MW), got {value!r}") from None


def _product(value: Any, factor: Any, name: Any) -> Any:
    try:
        return float(value) * float(factor)
    except (TypeError, ValueError):
        raise ValueError(f"device {name!r}: derate_frac must be a number, got {factor!r}") from None
