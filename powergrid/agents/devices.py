"""Device agents: thin views onto their fleet's arrays (see :mod:`powergrid.agents.fleets`).

A device's parameters and state live in the fleet row ``index``; the agent adds the HERON
interface (action spec, ``_execute_local_action``, state updates for distributed mode). Their
base, also of devices written as a class of your own, is :mod:`powergrid.agents.device_agent`.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from heron.core.action import Action
from powergrid.agents.device_agent import DeviceAgent, DeviceState, power_state
from powergrid.agents.fleets import (GeneratorFleet, RenewableFleet, StorageFleet, generator_cost, generator_marginal_cost,
                                     generator_output, on_arrays, require, storage_cost, storage_power, storage_soc, storage_violation)
from powergrid.agents.registry import DeviceType, by_kind, register_device_type
from powergrid.compat.devices import own_fleet

__all__ = ["DeviceState", "DeviceAgent", "FleetDevice", "power_state", "Generator", "ESS", "Storage", "Renewable", "Grid",
           "Transformer", "Shunt", "exchange_cost", "exchange_costs"]


def exchange_cost(p_import_mw: float, price: float, sell_price_ratio: float, dt_h: float) -> float:
    """Cost of energy exchanged with the upstream grid: imports (positive) bought at ``price``,
    exports sold at ``sell_price_ratio`` × price. ``exchange_costs`` is its twin on arrays."""
    return (p_import_mw if p_import_mw > 0.0 else p_import_mw * sell_price_ratio) * price * dt_h


exchange_costs = on_arrays(exchange_cost, 4)


class FleetDevice(DeviceAgent):
    """A device whose numbers live in row ``index`` of ``fleet`` (every registered device type's
    agent: the built-in ones and yours, see ``examples/ev_charger.py``). Acting alone, it
    reads its row as Python floats (``array.item(index)``) and applies the fleet's formulas to
    them: the same formulas the fleet applies to all rows at once, without numpy's per-call cost."""

    def __init__(self, agent_id: str, fleet: Any, index: int, bus: Any = None, parameters: tuple | None = None,
                 **kwargs: Any) -> None:
        self.fleet, self.index = fleet, int(index)
        #: (kind, config parameters) of a device made from its config (``own_fleet``), else None:
        #: what an env reads to place it in a net its agents built
        self.parameters = parameters
        super().__init__(agent_id, bus=bus, **kwargs)

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Run the device's physics on its current ``action`` (the earlier standalone call)."""
        self._execute_local_action(self.action.vector())

    @property
    def state(self) -> DeviceState:
        self._sync_state()
        return self._state

    @state.setter
    def state(self, state: DeviceState) -> None:
        self._state = state

    def _sync_state(self) -> None:
        """Copy the fleet row into the feature view (only when someone reads the state)."""

    def _write_state(self, **values: float) -> None:
        """Fleet values are already validated: write them into the view without checks."""
        stored = self._state["power"]._values
        for key, value in values.items():
            stored[key][...] = value


class Generator(FleetDevice):
    """Generator; action [P (MW), Q (Mvar)] within its limits (a solar or wind one within the
    hour's available power); P_MW injects."""

    kind = "generator"

    def __init__(self, agent_id: str | None = None, fleet: GeneratorFleet | None = None, index: int = 0, bus: Any = None, *,
                 device_config: Mapping[str, Any] | None = None, parameters: tuple | None = None, **kwargs: Any) -> None:
        if fleet is None or device_config is not None:  # on its own, from its config
            agent_id, fleet, bus, parameters = own_fleet(by_kind("generator"), agent_id, device_config, fleet)
        i = int(index)
        action = Action(dim_c=2, range=([fleet.p_min[i], fleet.q_min[i]], [fleet.p_max[i], fleet.q_max[i]]))
        super().__init__(agent_id, fleet, i, bus, action=action, parameters=parameters, **kwargs)
        self._limits = tuple(getattr(fleet, k).item(i) for k in ("p_min", "q_min", "q_max", "s_max", "q_slope", "q_idle"))
        self._cost = (fleet.cost_a.item(i), fleet.cost_b.item(i), fleet.cost_c.item(i))  # parameters: fixed once built

    def _sync_state(self) -> None:
        self._write_state(P_MW=self.fleet.p[self.index], Q_MVAR=self.fleet.q[self.index])

    def _execute_local_action(self, action: np.ndarray) -> None:
        i, f = self.index, self.fleet
        p, q = action.tolist()
        p_min, q_min, q_max, s_max, q_slope, q_idle = self._limits
        f.p_set[i], f.q_set[i] = p, q
        f.p[i], f.q[i] = generator_output(p, q, p_min, f.p_cap.item(i), q_min, q_max, s_max, q_slope, q_idle)  # the cap of the hour
        self.update_cost_safety()
        self._publish_state_updates()

    def update_cost_safety(self) -> None:
        """Fuel cost; no safety term: its P, Q, S and power-factor limits are physics (enforced)."""
        a, b, c = self._cost
        self.cost = generator_cost(self.fleet.p.item(self.index), a, b, c, self.dt_h)
        self.safety = 0.0

    def state_update(self) -> dict[str, float]:
        i, f = self.index, self.fleet
        p = f.p.item(i)
        a, b, _ = self._cost
        return {"P_MW": p, "Q_MVAR": f.q.item(i), "cost": self.cost, "safety": self.safety,
                "marginal_cost": generator_marginal_cost(p, a, b)}


class ESS(FleetDevice):
    """Energy storage; action [P (MW)], positive charges; tracks its state of charge."""

    kind = "storage"

    def __init__(self, agent_id: str | None = None, fleet: StorageFleet | None = None, index: int = 0, bus: Any = None, *,
                 device_config: Mapping[str, Any] | None = None, parameters: tuple | None = None, **kwargs: Any) -> None:
        if fleet is None or device_config is not None:  # on its own, from its config
            agent_id, fleet, bus, parameters = own_fleet(by_kind("storage"), agent_id, device_config, fleet)
        i = int(index)
        super().__init__(agent_id, fleet, i, bus, action=Action(dim_c=1, range=(fleet.p_min[i], fleet.p_max[i])),
                         state=power_state(agent_id, soc=float(fleet.soc[i])), parameters=parameters, **kwargs)
        self._limits = tuple(getattr(fleet, k).item(i) for k in ("p_min", "p_max", "capacity", "eff_ch", "eff_dis"))
        self._soft = tuple(getattr(fleet, k).item(i) for k in ("cost_per_mwh", "soc_min", "soc_max"))  # fixed once built

    def _sync_state(self) -> None:
        self._write_state(P_MW=self.fleet.p[self.index], soc=self.fleet.soc[self.index])

    def _execute_local_action(self, action: np.ndarray) -> None:
        i, f = self.index, self.fleet
        p_min, p_max, capacity, eff_ch, eff_dis = self._limits
        command = min(max(action.item(0), p_min), p_max)
        soc = f.soc.item(i)
        p = storage_power(command, soc, capacity, eff_ch, eff_dis, self.dt_h, *self._soft[1:])
        f.p_set[i], f.p[i] = command, p
        f.soc[i] = storage_soc(soc, p, capacity, eff_ch, eff_dis, self.dt_h, *self._soft[1:])
        self.update_cost_safety()
        self._publish_state_updates()

    def update_cost_safety(self) -> None:
        i, f = self.index, self.fleet
        wear, soc_min, soc_max = self._soft
        self.cost = storage_cost(f.p.item(i), wear, self.dt_h)
        self.safety = storage_violation(f.soc.item(i), soc_min, soc_max)

    def state_update(self) -> dict[str, float]:
        i, f = self.index, self.fleet
        return {"P_MW": f.p.item(i), "Q_MVAR": 0.0, "soc": f.soc.item(i), "cost": self.cost, "safety": self.safety}


Storage = ESS


class Renewable(FleetDevice):
    """Solar or wind plant: no action; its output follows the area's availability profile."""

    kind = "renewable"

    def __init__(self, agent_id: str, fleet: RenewableFleet, index: int, bus: Any = None, source: str = "solar", **kwargs: Any) -> None:
        require(isinstance(source, str) and source in ("solar", "wind"), agent_id, f"source must be 'solar' or 'wind', got {source!r}")
        self.source = source
        super().__init__(agent_id, fleet, index, bus, **kwargs)

    def _sync_state(self) -> None:
        self._write_state(P_MW=self.fleet.p[self.index])

    def state_update(self) -> dict[str, float]:
        return {"P_MW": self.fleet.p.item(self.index), "Q_MVAR": 0.0, "cost": 0.0, "safety": 0.0}


class Grid(DeviceAgent):
    """The microgrid's connection to the operator network: energy bought (positive import) and
    sold at the price of ``price_area``. It has no action; its power comes from the power flow."""

    kind = "grid"

    def __init__(self, agent_id: str, price_area: str = "DA", sell_price_ratio: float = 1.0, **kwargs: Any) -> None:
        require(0.0 <= sell_price_ratio <= 1.0, agent_id, f"sell_price_ratio must be in [0, 1], got {sell_price_ratio}")
        self.price_area = price_area
        self.sell_price_ratio = float(sell_price_ratio)
        super().__init__(agent_id, **kwargs)

    def energy_cost(self, p_import_mw: float | np.ndarray, price: float | np.ndarray, dt_h: float) -> Any:
        """Bought at ``price``, sold at ``sell_price_ratio`` × price."""
        return (exchange_cost if type(p_import_mw) is float else exchange_costs)(p_import_mw, price, self.sell_price_ratio, dt_h)


class Transformer(DeviceAgent):
    """On-load tap changer: the action picks the tap position in [tap_min, tap_max]."""

    kind = "transformer"

    def __init__(self, agent_id: str, tap_min: int = -16, tap_max: int = 16, tap_pos: int = 0, **kwargs: Any) -> None:
        require(int(tap_min) <= int(tap_pos) <= int(tap_max), agent_id,
                f"needs tap_min <= tap_pos <= tap_max, got {tap_min}, {tap_pos}, {tap_max}")
        self.tap_min, self.tap_max, self.tap_pos = int(tap_min), int(tap_max), int(tap_pos)
        action = Action(dim_d=1, ncats=[self.tap_max - self.tap_min + 1])
        super().__init__(agent_id, action=action, **kwargs)
        self.action.d[:] = self.tap_pos - self.tap_min

    def _execute_local_action(self, action: np.ndarray) -> None:
        self.tap_pos = self.tap_min + int(action[-1])
        self._publish_state_updates()

    def state_update(self) -> dict[str, float]:
        return {"tap_pos": float(self.tap_pos), "cost": 0.0, "safety": 0.0}


class Shunt(DeviceAgent):
    """Switched capacitor bank: the action picks how many of ``max_step`` steps of
    ``q_step_mvar`` are switched in."""

    kind = "shunt"

    def __init__(self, agent_id: str, q_step_mvar: float = 0.1, max_step: int = 1, step: int = 0, **kwargs: Any) -> None:
        require(int(max_step) >= 1 and 0 <= int(step) <= int(max_step), agent_id,
                f"needs max_step >= 1 and 0 <= step <= max_step, got {max_step}, {step}")
        self.q_step_mvar, self.max_step, self.step = float(q_step_mvar), int(max_step), int(step)
        super().__init__(agent_id, action=Action(dim_d=1, ncats=[self.max_step + 1]), **kwargs)
        self.action.d[:] = self.step

    def _execute_local_action(self, action: np.ndarray) -> None:
        self.step = int(action[-1])
        self._publish_state_updates()

    def state_update(self) -> dict[str, float]:
        return {"step": float(self.step), "cost": 0.0, "safety": 0.0}


# The built-in device types, registered as a type of your own would be (in this order: the model's
# fleets and the observation source follow it).
for _type in (
        DeviceType("generator", ("Generator", "DG"), frozenset({"p_min", "p_max", "q_min", "q_max", "s_max", "pf_min", "cost", "source"}),
                   GeneratorFleet, Generator),
        DeviceType("storage", ("ESS", "Storage"),
                   frozenset({"capacity", "p_min", "p_max", "soc_init", "soc_min", "soc_max", "eff_ch", "eff_dis", "cost_per_mwh"}),
                   StorageFleet, ESS),
        DeviceType("solar", ("PV", "Solar"), frozenset({"p_max"}), RenewableFleet, partial(Renewable, source="solar"),
                   "renewable", profile="solar"),
        DeviceType("wind", ("Wind",), frozenset({"p_max"}), RenewableFleet, partial(Renewable, source="wind"),
                   "renewable", profile="wind"),
        DeviceType("oltc", ("Transformer", "OLTC"), frozenset({"tap_min", "tap_max", "tap_pos", "tap_step_percent"}),
                   discrete=True, observed_discrete=(("tap_pos", False),)),
        DeviceType("shunt", ("Shunt",), frozenset({"q_step_mvar", "max_step", "step"}),
                   discrete=True, observed_discrete=(("step", False),))):
    register_device_type(_type)
