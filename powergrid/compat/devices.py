"""Devices made on their own from an earlier ``device_config`` (``Generator(agent_id=...,
device_config={'name': ..., 'device_state_config': {'p_max_MW': ...}})``): the config is
translated into this package's keys (:mod:`powergrid.compat.config_keys`) and the device gets
a fleet of one row."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from powergrid.compat.config_keys import translated_device

__all__ = ["own_fleet"]


def own_fleet(dtype: Any, agent_id: str | None, device_config: Mapping[str, Any] | None,
              fleet: Any = None) -> tuple[str, Any, Any, tuple]:
    """(name, a one-device fleet, bus, (kind, parameters)) for a device made on its own from its
    config (``fleet`` must then be None), as the earlier package made them:
    ``Generator(agent_id=..., device_config={'name': ...,
    'device_state_config': {'p_max_MW': ...}})``. Keys in either package's names (see
    :mod:`powergrid.compat.config_keys`); a typo raises naming it."""
    if not isinstance(device_config, Mapping):
        raise ValueError(f"device {agent_id!r}: pass its fleet and row, or its device_config (a dict), got {device_config!r}")
    if fleet is not None:
        raise ValueError(f"device {agent_id!r}: pass its fleet and row, or its device_config, not both")
    name = agent_id or device_config.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a device needs a name (agent_id or device_config['name']), got {name!r}")
    kind = dtype.kind  # the device type (powergrid.agents.registry.DeviceType) it is made as
    cfg = translated_device(kind, {**device_config, "name": name})
    params = dtype.checked(cfg, f"device {name!r}")
    return name, dtype.fleet([{**params, "name": name}]), cfg.get("bus"), (kind, params)
