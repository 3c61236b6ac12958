"""A device type of your own in one module: an EV charger (the FAQ's ``EVCharger``).

Three parts, then one call to register them:

1. ``EVChargerFleet``, every charger of a run as arrays: its parameters, its state (state of
   charge), its action (the charging power), what it observes and reports, and its physics. It
   reuses the storage formulas: a charger is a battery that only charges.
2. ``EVCharger``, the agent of one charger: what a microgrid controller drives in distributed
   and event-driven mode, with the same formulas on its own row.
3. ``register_device_type``: configs may now name ``"EVCharger"``; the model builds it, the
   layout gives it its action entry and observations, the step charges it, and distributed mode
   routes its reports. Nothing else in PowerGrid changes.

Run it: ``python examples/ev_charger.py`` puts a charger in MG1 and plays one day in every mode.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from heron.core.action import Action
from powergrid.agents.devices import FleetDevice, power_state
from powergrid.agents.fleets import Fleet, on_arrays, parameter, require, storage_power, storage_soc
from powergrid.agents.registry import DeviceType, register_device_type

_charge = on_arrays(storage_power, 8)
_soc = on_arrays(storage_soc, 8)


class EVChargerFleet(Fleet):
    """EV chargers: a car battery of ``capacity`` MWh charged at up to ``p_max`` MW with
    efficiency ``eff``; safety counts the charge still missing to ``soc_target`` every hour."""

    FIELDS = ("capacity", "p_max", "eff", "soc_init", "soc_target", "p", "soc")
    STATE = ("p", "soc")
    ACTION = ("p",)
    BOUNDS = (("zero", "p_max"),)
    OBSERVED = (("P_MW", "p", True), ("soc", "soc", False))
    REPORTS = (("P_MW", "p", "storage_p"),)  # a pandapower storage element: positive consumes
    ELEMENT = "storage"

    def __init__(self, configs: Any) -> None:
        super().__init__(configs)
        self.zero = np.zeros(self.size)  # the low bound of the charging power

    def _load(self, i: int, cfg: Mapping[str, Any]) -> None:
        values = {"capacity": parameter(cfg, "capacity"), "p_max": parameter(cfg, "p_max"), "eff": parameter(cfg, "eff", 0.92),
                  "soc_init": parameter(cfg, "soc_init", 0.2), "soc_target": parameter(cfg, "soc_target", 0.8)}
        require(values["capacity"] > 0 and values["p_max"] >= 0, cfg["name"], "needs capacity > 0 and p_max >= 0")
        require(0 < values["eff"] <= 1 and 0 <= values["soc_init"] <= 1 and 0 <= values["soc_target"] <= 1, cfg["name"],
                "needs 0 < eff <= 1 and soc_init, soc_target in [0, 1]")
        for key, value in values.items():
            getattr(self, key)[i] = value
        self.soc[i] = values["soc_init"]

    @classmethod
    def create_element(cls, net: Any, bus: int, name: str, row: Fleet) -> int:
        import pandapower as pp

        return int(pp.create_storage(net, bus, p_mw=0.0, max_e_mwh=float(row.capacity[0]), name=name))

    def act(self, setpoints: np.ndarray, dt_h: float) -> None:
        p = np.clip(setpoints[..., 0], 0.0, self.p_max)
        self.p[...] = delivered = _charge(p, self.soc, self.capacity, self.eff, 1.0, dt_h, 0.0, 1.0)
        self.soc[...] = _soc(self.soc, delivered, self.capacity, self.eff, 1.0, dt_h, 0.0, 1.0)

    def hold(self, dt_h: float) -> None:
        self.act(self.p[..., None], dt_h)

    def violation(self, rows: Any) -> np.ndarray:
        return np.maximum(self.soc_target[rows] - self.soc[rows], 0.0)

    def reset(self, rows: Any = slice(None)) -> None:
        self.soc[rows] = self.soc_init
        self.p[rows] = 0.0


class EVCharger(FleetDevice):
    """One charger; action [P (MW)] in [0, p_max]."""

    kind = "ev_charger"

    def __init__(self, agent_id: str, fleet: EVChargerFleet, index: int, bus: Any = None, **kwargs: Any) -> None:
        i = int(index)
        super().__init__(agent_id, fleet, i, bus, action=Action(dim_c=1, range=(0.0, fleet.p_max[i])),
                         state=power_state(agent_id, soc=float(fleet.soc[i])), **kwargs)

    def _sync_state(self) -> None:
        self._write_state(P_MW=self.fleet.p[self.index], soc=self.fleet.soc[self.index])

    def _execute_local_action(self, action: np.ndarray) -> None:
        i, f = self.index, self.fleet
        capacity, eff, soc = f.capacity.item(i), f.eff.item(i), f.soc.item(i)
        p = storage_power(min(max(action.item(0), 0.0), f.p_max.item(i)), soc, capacity, eff, 1.0, self.dt_h, 0.0, 1.0)
        f.p[i], f.soc[i] = p, storage_soc(soc, p, capacity, eff, 1.0, self.dt_h, 0.0, 1.0)
        self.update_cost_safety()
        self._publish_state_updates()

    def update_cost_safety(self) -> None:
        self.cost = 0.0  # its energy is paid through the microgrid's import
        self.safety = max(self.fleet.soc_target.item(self.index) - self.fleet.soc.item(self.index), 0.0)

    def state_update(self) -> dict[str, float]:
        i, f = self.index, self.fleet
        return {"P_MW": f.p.item(i), "Q_MVAR": 0.0, "soc": f.soc.item(i), "cost": self.cost, "safety": self.safety}


register_device_type(DeviceType("ev_charger", ("EVCharger",), frozenset({"capacity", "p_max", "eff", "soc_init", "soc_target"}),
                                EVChargerFleet, EVCharger))


def config_with_a_charger(centralized: bool = True) -> dict[str, Any]:
    """The default setup with a 60 kWh car on an 11 kW charger at MG1's bus 634."""
    from powergrid.setups import load_setup

    setup = load_setup("ieee34_ieee13")
    microgrids = setup["microgrid_configs"]
    microgrids[0]["devices"].append({"type": "EVCharger", "name": "MG1_ev", "bus": "634", "capacity": 0.06, "p_max": 0.011})
    return {"centralized": centralized, "microgrid_configs": microgrids, "train": False}


if __name__ == "__main__":
    from powergrid.envs import MultiAgentMicrogrids

    for centralized in (True, False):
        env = MultiAgentMicrogrids(config_with_a_charger(centralized))
        env.reset(seed=0)
        charge = {"MG1": np.array([0.1, 0.0, 0.0, 0.011]), "MG2": np.zeros(3), "MG3": np.zeros(3)}
        total = 0.0
        while env.agents:
            _, rewards, *_ = env.step(charge)
            total += sum(rewards.values())
        print(f"{'centralized' if centralized else 'distributed'}: MG1 action {env.action_space('MG1').shape}, "
              f"car at {env.core.fleets['ev_charger'].soc[0]:.2f} of its battery after a day, return {total:.3f}")
