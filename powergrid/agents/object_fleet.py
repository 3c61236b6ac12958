"""Devices written as Python classes (a ``DeviceAgent`` subclass with its own physics) in the step.

A registered device type steps all its devices as arrays. A device written the earlier
package's way (its example 04's ``SolarPanel``, the FAQ's ``EVCharger``) is one Python object
with its own ``update_state``; an :class:`ObjectFleet` puts such objects in the step: each
row is one device, acting hands it its slice of the action (``device.apply``), and its
delivered power, cost, safety and the state it shows its controller are read back into the
arrays the step and the observations read. It costs a Python call per device and step, and
runs in one env, not in a batch: for speed, write a fleet (``examples/ev_charger.py``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from powergrid.agents.fleets import Fleet

__all__ = ["ObjectFleet", "object_fleet_class", "object_fleet_key"]

#: What enters the power flow, by the pandapower table a device is placed in: a static
#: generator injects positive P; a storage element (the load convention) consumes it.
_REPORTS = {"sgen": (("P_MW", "p", "sgen_p"), ("Q_MVAR", "q", "sgen_q")), "storage": (("P_MW", "p", "storage_p"),)}


def object_fleet_key(device: Any) -> tuple[Any, ...]:
    """Devices that can share one fleet: one class, one element, one action width and one observed layout."""
    return type(device), device.element_type, device.action.dim_c, tuple(device.observed_fields())


def object_fleet_class(device: Any) -> type["ObjectFleet"]:
    """The fleet class of devices like ``device`` (see ``object_fleet_key``)."""
    width, fields = device.action.dim_c, device.observed_fields()
    if device.element_type not in _REPORTS:
        raise ValueError(f"device {device.agent_id!r}: element must be one of {sorted(_REPORTS)}, got {device.element_type!r}")
    if width < 1 or device.action.dim_d:
        raise ValueError(f"device {device.agent_id!r}: a device written as a Python class needs a continuous action "
                         f"(dim_c >= 1, dim_d = 0) to join a microgrid, got dim_c={width}, dim_d={device.action.dim_d}")
    action = tuple(f"a{j}" for j in range(width))
    observed = tuple((name, f"o{j}", False) for j, (name, _) in enumerate(fields))
    attrs = {"ACTION": action, "BOUNDS": tuple((f"low{j}", f"high{j}") for j in range(width)), "OBSERVED": observed,
             "REPORTS": _REPORTS[device.element_type], "ELEMENT": device.element_type,
             "STATE": ("p", "q", "cost_now", "safety_now") + action + tuple(o for _, o, _ in observed)}
    attrs["FIELDS"] = attrs["STATE"] + tuple(b for pair in attrs["BOUNDS"] for b in pair)
    return type(f"{type(device).__name__}Fleet", (ObjectFleet,), attrs)


class ObjectFleet(Fleet):
    """Rows of Python device objects (see the module doc); configs are ``{'name', 'device'}``."""

    def __init__(self, configs: Sequence[dict[str, Any]]) -> None:
        self.devices: list[Any] = [c["device"] for c in configs]
        super().__init__(configs)

    def _load(self, i: int, cfg: dict[str, Any]) -> None:
        action = cfg["device"].action
        for j, (low, high) in enumerate(zip(action.low, action.high)):
            getattr(self, f"low{j}")[i], getattr(self, f"high{j}")[i] = low, high
        self._read(i)

    @classmethod
    def create_element(cls, net: Any, bus: int, name: str, row: Fleet) -> int:
        import pandapower as pp

        if cls.ELEMENT == "storage":
            return int(pp.create_storage(net, bus, p_mw=0.0, max_e_mwh=0.0, name=name))
        return int(pp.create_sgen(net, bus, p_mw=0.0, q_mvar=0.0, name=name))

    def _read(self, i: int) -> None:
        """Row ``i`` from its device: what it delivers, costs and shows its controller."""
        device = self.devices[i]
        update = device.state_update()
        self.p[i], self.q[i], self.cost_now[i], self.safety_now[i] = update["P_MW"], update["Q_MVAR"], update["cost"], update["safety"]
        for j, value in enumerate(device.action.c.tolist()):
            getattr(self, f"a{j}")[i] = value
        for (name, attribute, _) in self.OBSERVED:
            getattr(self, attribute)[i] = update[name]

    def act(self, setpoints: np.ndarray, dt_h: float) -> None:
        for i, device in enumerate(self.devices):
            device.dt_h = dt_h
            device.apply(setpoints[i])
            self._read(i)

    def hold(self, dt_h: float) -> None:
        """Event-driven mode: each device runs its physics again on its last action."""
        for i, device in enumerate(self.devices):
            device.dt_h = dt_h
            device.apply(device.action.c.copy())
            self._read(i)

    def cost(self, rows: Any, dt_h: float) -> np.ndarray:
        return self.cost_now[rows]

    def violation(self, rows: Any) -> np.ndarray:
        return self.safety_now[rows]

    def reset(self, rows: Any = slice(None)) -> None:
        for i in range(self.size)[rows] if isinstance(rows, slice) else np.flatnonzero(rows):
            self.devices[i].reset()
            self._read(int(i))

    def batched(self, num_envs: int) -> "Fleet":
        raise ValueError(f"devices written as Python classes ({sorted({type(d).__name__ for d in self.devices})}) run in one env, "
                         "not in a batch: write their type as a fleet (see examples/ev_charger.py) to batch them")
