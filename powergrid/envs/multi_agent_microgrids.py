"""MultiAgentMicrogrids: networked microgrids on a distribution feeder, one RL agent per microgrid.

With no config it runs the embedded setup ``ieee34_ieee13`` (see ``powergrid/setups``). Config
keys (unknown ones raise ``ValueError``): those of :class:`NetworkedGridEnv` plus ``setup``
(embedded setup name), ``dataset_path`` (a user's own profiles: pickle in the earlier format, or
``.npz``), ``dso_config`` (overrides for the operator network), ``microgrid_configs`` (replaces
the setup's list: ``{name, connection_bus, load_area, renew_area, base_power, load_scale,
devices}``, devices ``{type: Generator|ESS|PV|Wind, name, bus, ...parameters}``),
``sell_price_ratio`` (export price as a fraction of the import price) and
``power_flow_backend`` (``'lightsim2grid'`` or ``'pandapower'``).

An agent's cost per step: generator fuel cost, storage throughput cost, and energy bought
from (or sold to) the operator network at the price. Its safety: voltage outside 0.95-1.05 pu
on its buses (pu summed), line and connection-transformer loading above 100 % (fraction
summed), state of charge outside its bounds, generator apparent power above its rating and
power factor below its minimum. Reward = -(cost + penalty · safety).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from heron.agents.proxy import Proxy
from powergrid.agents.devices import ESS, Generator, Renewable
from powergrid.agents.fleets import GeneratorFleet, RenewableFleet, StorageFleet
from powergrid.agents.grid_agent import GridAgent
from powergrid.envs.networked_grid_env import COMMON_DEFAULTS, NetworkedGridEnv
from powergrid.networks.compose import attach_ieee13_microgrid, build_operator_network
from powergrid.powerflow import make_backend
from powergrid.setups.loader import load_dataset, load_setup

import pandapower as pp

__all__ = ["MultiAgentMicrogrids", "voltage_violation", "overload"]

V_MIN, V_MAX = 0.95, 1.05
MICROGRID_KEYS = {"name", "network", "connection_bus", "load_area", "renew_area", "base_power", "load_scale", "devices"}
DSO_KEYS = {"network", "name", "load_scale", "load_area", "price_area", "vm_pu"}
DEVICE_TYPES = {"Generator": "generator", "DG": "generator", "ESS": "storage", "Storage": "storage", "PV": "solar",
                "Solar": "solar", "Wind": "wind"}


def voltage_violation(vm: np.ndarray) -> np.ndarray:
    """Per-bus distance (pu) outside [0.95, 1.05]."""
    return np.maximum(vm - V_MAX, 0.0) + np.maximum(V_MIN - vm, 0.0)


def overload(loading_percent: np.ndarray) -> np.ndarray:
    """Per-branch loading above 100 %, as a fraction."""
    return np.maximum(loading_percent * 0.01 - 1.0, 0.0)


class MultiAgentMicrogrids(NetworkedGridEnv):
    metadata = {"name": "multi_agent_microgrids_v0", "render_modes": []}
    DEFAULTS = {**COMMON_DEFAULTS, "setup": "ieee34_ieee13", "dataset_path": None, "dso_config": None,
                "microgrid_configs": None, "sell_price_ratio": 1.0, "power_flow_backend": "lightsim2grid"}
    dt_h = 1.0

    # ------------------------------------------------------------------ build
    def _build_net(self) -> pp.pandapowerNet:
        cfg = self.config
        setup = load_setup(cfg["setup"]) if isinstance(cfg["setup"], str) else _raise(f"config 'setup' must be a setup name, got {cfg['setup']!r}")
        dso = {**setup["dso_config"], **_checked_dict(cfg["dso_config"], "dso_config", DSO_KEYS)}
        microgrids = cfg["microgrid_configs"] if cfg["microgrid_configs"] is not None else setup["microgrid_configs"]
        if not isinstance(microgrids, (list, tuple)) or not microgrids:
            raise ValueError(f"config 'microgrid_configs' must be a non-empty list, got {microgrids!r}")
        ratio = cfg["sell_price_ratio"]
        if not isinstance(ratio, (int, float)) or not 0.0 <= ratio <= 1.0:
            raise ValueError(f"config 'sell_price_ratio' must be in [0, 1], got {ratio!r}")
        self.dataset = load_dataset(cfg["dataset_path"] or setup["dataset_path"])
        self._series: list[tuple[str, str]] = []
        net, operator_buses = build_operator_network(dso.get("network", "IEEE34"), dso.get("name", "DSO"),
                                                     float(dso.get("load_scale", 1.0)), float(dso.get("vm_pu", 1.05)))
        load_series = [self._series_row("load", dso["load_area"])] * len(net.load)
        self._price_row = self._series_row("price", dso["price_area"])
        self._mg_specs = []
        gen_cfgs, ess_cfgs, ren_cfgs = [], [], []
        names = set()
        for k, raw in enumerate(microgrids):
            mg = _checked_dict(raw, f"microgrid_configs[{k}]", MICROGRID_KEYS)
            for key in ("name", "connection_bus", "load_area", "renew_area", "devices"):
                if key not in mg:
                    raise ValueError(f"microgrid_configs[{k}] is missing {key!r}")
            name = str(mg["name"])
            if name in names:
                raise ValueError(f"two microgrids are named {name!r}")
            names.add(name)
            if mg.get("network", "IEEE13") != "IEEE13":
                raise ValueError(f"microgrid {name!r}: network must be 'IEEE13', got {mg['network']!r}")
            connection = str(mg["connection_bus"])
            if connection not in operator_buses:
                raise ValueError(f"microgrid {name!r}: connection_bus {connection!r} is not a node of the operator network; nodes: {sorted(operator_buses)}")
            first_bus, first_line, first_load = len(net.bus), len(net.line), len(net.load)
            buses, trafo = attach_ieee13_microgrid(net, operator_buses[connection], name, float(mg.get("load_scale", 1.0)))
            load_series += [self._series_row("load", mg["load_area"])] * (len(net.load) - first_load)
            spec = {"name": name, "bus_pos": np.arange(first_bus, len(net.bus)), "line_pos": np.arange(first_line, len(net.line)),
                    "trafo": trafo, "base_power": float(mg.get("base_power", 1.0)), "devices": []}
            if not isinstance(mg["devices"], (list, tuple)):
                raise ValueError(f"microgrid {name!r}: devices must be a list, got {mg['devices']!r}")
            for dev in mg["devices"]:
                self._add_device(net, name, buses, mg, dev, spec, gen_cfgs, ess_cfgs, ren_cfgs)
            self._mg_specs.append(spec)
        self.generators = GeneratorFleet(gen_cfgs)
        self.storage = StorageFleet(ess_cfgs)
        self.renewables = RenewableFleet(ren_cfgs)
        for fleet, cfgs in ((self.generators, gen_cfgs), (self.storage, ess_cfgs), (self.renewables, ren_cfgs)):
            fleet.element[:] = [c["_element"] for c in cfgs]
            fleet.bus[:] = [c["_bus"] for c in cfgs]
        self._ren_series = np.array([self._series_row(c["_source"], c["_area"]) for c in ren_cfgs], dtype=np.int64)
        self._load_series = np.array(load_series, dtype=np.int64)
        self._profiles = {split: np.ascontiguousarray(np.stack([self.dataset[split][kind][area] for kind, area in self._series], axis=1))
                          for split in ("train", "test")}
        return net

    def _series_row(self, kind: str, area: str) -> int:
        for split in ("train", "test"):
            if area not in self.dataset[split][kind]:
                raise ValueError(f"the dataset has no {kind} profile for area {area!r} in {split!r}; it has {sorted(self.dataset[split][kind])}")
        if (kind, area) not in self._series:
            self._series.append((kind, area))
        return self._series.index((kind, area))

    def _add_device(self, net, mg_name, buses, mg, dev, spec, gen_cfgs, ess_cfgs, ren_cfgs) -> None:
        if not isinstance(dev, Mapping) or "type" not in dev or "name" not in dev:
            raise ValueError(f"microgrid {mg_name!r}: each device needs 'type' and 'name', got {dev!r}")
        kind = DEVICE_TYPES.get(dev["type"])
        if kind is None:
            raise ValueError(f"device {dev['name']!r}: unknown type {dev['type']!r}; expected one of {sorted(DEVICE_TYPES)}")
        node = str(dev.get("bus", "650"))
        if node not in buses:
            raise ValueError(f"device {dev['name']!r}: bus {node!r} is not a node of {mg_name}; nodes: {sorted(buses)}")
        cfg = {k: v for k, v in dev.items() if k not in ("type", "bus")}
        cfg["_bus"] = buses[node]
        if kind == "generator":
            probe = GeneratorFleet([cfg])  # validates before the net is touched
            cfg["_element"] = pp.create_sgen(net, buses[node], p_mw=float(probe.p[0]), q_mvar=0.0, name=str(dev["name"]))
            spec["devices"].append(("generator", len(gen_cfgs), str(dev["name"])))
            gen_cfgs.append(cfg)
        elif kind == "storage":
            probe = StorageFleet([cfg])
            cfg["_element"] = pp.create_storage(net, buses[node], p_mw=0.0, max_e_mwh=float(probe.capacity[0]), name=str(dev["name"]))
            spec["devices"].append(("storage", len(ess_cfgs), str(dev["name"])))
            ess_cfgs.append(cfg)
        else:
            RenewableFleet([cfg])
            cfg["_element"] = pp.create_sgen(net, buses[node], p_mw=0.0, q_mvar=0.0, name=str(dev["name"]), type=kind)
            cfg["_source"], cfg["_area"] = kind, mg["renew_area"]
            self._series_row(kind, mg["renew_area"])
            spec["devices"].append((kind, len(ren_cfgs), str(dev["name"])))
            ren_cfgs.append(cfg)

    def _build_agents(self) -> dict[str, GridAgent]:
        agents = {}
        for spec in self._mg_specs:
            devices = []
            for kind, row, name in spec["devices"]:
                if kind == "generator":
                    devices.append(Generator(name, self.generators, row, bus=int(self.generators.bus[row])))
                elif kind == "storage":
                    devices.append(ESS(name, self.storage, row, bus=int(self.storage.bus[row])))
                else:
                    devices.append(Renewable(name, self.renewables, row, bus=int(self.renewables.bus[row]), source=kind))
            agents[spec["name"]] = GridAgent(spec["name"], devices=devices, base_power=spec["base_power"],
                                             n_buses=len(spec["bus_pos"]), env_id=self.env_id)
        return agents

    def _make_backend(self):
        return make_backend(self.net, self.config["power_flow_backend"])

    def _compile(self) -> None:
        super()._compile()
        specs, n = self._mg_specs, len(self._mg_specs)
        self._mg_trafo = np.array([s["trafo"] for s in specs], dtype=np.int64)
        self._mg_bus = np.concatenate([s["bus_pos"] for s in specs])
        self._mg_bus_owner = np.concatenate([np.full(len(s["bus_pos"]), k) for k, s in enumerate(specs)])
        self._mg_line = np.concatenate([s["line_pos"] for s in specs])
        self._mg_line_owner = np.concatenate([np.full(len(s["line_pos"]), k) for k, s in enumerate(specs)])
        self.gen_owner = np.zeros(self.generators.size, dtype=np.int64)
        self.ess_owner = np.zeros(self.storage.size, dtype=np.int64)
        self.ren_owner = np.zeros(self.renewables.size, dtype=np.int64)
        self._gen_p_pos = np.zeros(self.generators.size, dtype=np.int64)
        self._gen_q_pos = np.zeros(self.generators.size, dtype=np.int64)
        self._ess_p_pos = np.zeros(self.storage.size, dtype=np.int64)
        from heron.protocols.vertical import setpoint_layout
        for k, (agent_id, agent) in enumerate(self.agent_dict.items()):
            layout, _ = setpoint_layout({d: dev.action for d, dev in agent.devices.items()})
            where = dict(layout)
            for dev in agent.devices.values():
                start = self._action_offsets[k] + where[dev.agent_id].start
                if isinstance(dev, Generator):
                    self.gen_owner[dev.index] = k
                    self._gen_p_pos[dev.index], self._gen_q_pos[dev.index] = start, start + 1
                elif isinstance(dev, ESS):
                    self.ess_owner[dev.index] = k
                    self._ess_p_pos[dev.index] = start
                else:
                    self.ren_owner[dev.index] = k
        self._load_owner = np.full(len(self.net.load), n, dtype=np.int64)  # n = the operator's own loads
        bus_owner = np.full(len(self.net.bus), n, dtype=np.int64)
        bus_owner[self._mg_bus] = self._mg_bus_owner
        self._load_owner[:] = bus_owner[self.net.bus.index.get_indexer(self.net.load.bus)]
        self._load_base_p = self.backend.initial["load_p"].copy()
        self._load_base_q = self.backend.initial["load_q"].copy()
        # observation gathers: source vector = [gen p, gen q, ess p, ess soc, ren p, load p(k), import(k), price, sin, cos, vm]
        G, S, R = self.generators.size, self.storage.size, self.renewables.size
        base = {"gen_p": 0, "gen_q": G, "ess_p": 2 * G, "ess_soc": 2 * G + S, "ren_p": 2 * G + 2 * S}
        base["load_p"] = base["ren_p"] + R
        base["p_import"] = base["load_p"] + n
        base["price"] = base["p_import"] + n
        base["vm"] = base["price"] + 3
        self._obs_index, self._obs_scale = [], []
        for k, agent in enumerate(self.agent_dict.values()):
            idx, scale = [], []
            inv = 1.0 / agent.base_power
            for dev in agent.devices.values():
                if isinstance(dev, Generator):
                    idx += [base["gen_p"] + dev.index, base["gen_q"] + dev.index]
                    scale += [inv, inv]
                elif isinstance(dev, ESS):
                    idx += [base["ess_p"] + dev.index, base["ess_soc"] + dev.index]
                    scale += [inv, 1.0]
                elif isinstance(dev, Renewable):
                    idx.append(base["ren_p"] + dev.index)
                    scale.append(inv)
            idx += [base["load_p"] + k, base["p_import"] + k, base["price"], base["price"] + 1, base["price"] + 2]
            scale += [inv, inv, 1.0, 1.0, 1.0]
            idx += list(base["vm"] + specs[k]["bus_pos"])
            scale += [1.0] * len(specs[k]["bus_pos"])
            assert len(idx) == agent.observation_dim
            self._obs_index.append(np.array(idx, dtype=np.int64))
            self._obs_scale.append(np.array(scale))
        self._good = {"vm": np.ones(len(self.net.bus)), "p_import": np.zeros(n), "line": np.zeros(len(self.net.line)),
                      "trafo": np.zeros(len(self.net.trafo))}
        self._episode = 0
        self._hour = 0
        self._price = 0.0

    # ------------------------------------------------------------- episodes
    def _start_episode(self, options: Mapping[str, Any]) -> None:
        self._split = "train" if self.config["train"] else "test"
        hours = self._profiles[self._split].shape[0]
        days = (hours - self.max_episode_steps - 1) // 24 + 1
        if days < 1:
            raise ValueError(f"the dataset's {hours} hours are too few for episodes of {self.max_episode_steps} steps")
        if "day" in options:
            day = int(options["day"])
            if not 0 <= day < days:
                raise ValueError(f"options['day'] must be in [0, {days}), got {options['day']!r}")
        elif self.config["train"]:
            day = int(self._rng.integers(0, days))
        else:
            day = self._episode % days
        self._episode += 1
        self._start_hour = 24 * day
        self.storage.reset()
        self.generators.dispatch(slice(None), self.generators.p_min, np.zeros(self.generators.size))
        self.backend.reset()

    # ----------------------------------------------------------- centralized
    def _apply_actions(self, flat: np.ndarray) -> None:
        self.generators.dispatch(slice(None), flat[self._gen_p_pos], flat[self._gen_q_pos])
        self.storage.dispatch(slice(None), flat[self._ess_p_pos], self.dt_h)

    def _set_profiles(self) -> None:
        """Loads, renewable output and price of the current hour (nature's part, both modes)."""
        self._hour = self._start_hour + self._t
        column = self._profiles[self._split][self._hour]
        b = self.backend
        np.multiply(self._load_base_p, column[self._load_series], out=b.load_p)
        np.multiply(self._load_base_q, column[self._load_series], out=b.load_q)
        np.multiply(self.renewables.p_max, column[self._ren_series], out=self.renewables.p)
        b.sgen_p[self.renewables.element] = self.renewables.p
        self._price = float(column[self._price_row])

    def _solve(self) -> bool:
        result = self.backend.solve()
        if result.converged:
            good = self._good
            good["vm"][:] = result.vm_pu
            good["p_import"][:] = result.trafo_p_hv_mw[self._mg_trafo]
            good["line"][:] = result.line_loading_percent
            good["trafo"][:] = result.trafo_loading_percent
        return result.converged

    def _solve_and_score(self, first: bool = False):
        self._set_profiles()
        b = self.backend
        b.sgen_p[self.generators.element] = self.generators.p
        b.sgen_q[self.generators.element] = self.generators.q
        b.storage_p[self.storage.element] = self.storage.p
        converged = self._solve()
        cost, safety = self._reward_and_safety()
        return cost, safety, converged

    def _grid_cost(self, p_import: np.ndarray | float, price: float) -> Any:
        ratio = self.config["sell_price_ratio"]
        return np.where(np.asarray(p_import) > 0.0, p_import, np.asarray(p_import) * ratio) * price * self.dt_h

    def _reward_and_safety(self) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.possible_agents)
        good, dt = self._good, self.dt_h
        cost = np.bincount(self.gen_owner, self.generators.cost(slice(None), dt), minlength=n)
        cost += np.bincount(self.ess_owner, self.storage.cost(slice(None), dt), minlength=n)
        cost += self._grid_cost(good["p_import"], self._price)
        safety = np.bincount(self._mg_bus_owner, voltage_violation(good["vm"][self._mg_bus]), minlength=n)
        safety += np.bincount(self._mg_line_owner, overload(good["line"][self._mg_line]), minlength=n)
        safety += overload(good["trafo"][self._mg_trafo])
        safety += np.bincount(self.ess_owner, self.storage.violation(slice(None)), minlength=n)
        safety += np.bincount(self.gen_owner, self.generators.violation(slice(None)), minlength=n)
        return cost, safety

    def _hour_features(self) -> tuple[float, float]:
        angle = 2.0 * math.pi * (self._hour % 24) / 24.0
        return math.sin(angle), math.cos(angle)

    def _observations(self) -> dict[str, np.ndarray]:
        n = len(self.possible_agents)
        load_p = np.bincount(self._load_owner, self.backend.load_p, minlength=n + 1)[:n]
        sin, cos = self._hour_features()
        g, s = self.generators, self.storage
        source = np.concatenate([g.p, g.q, s.p, s.soc, self.renewables.p, load_p, self._good["p_import"],
                                 (self._price, sin, cos), self._good["vm"]])
        return {a: (source[idx] * scale).astype(np.float32)
                for a, idx, scale in zip(self.possible_agents, self._obs_index, self._obs_scale)}

    # ----------------------------------------------------------- distributed
    def _apply_state_updates(self, updates: Mapping[str, Mapping[str, float]]) -> None:
        b = self.backend
        for agent in self.agent_dict.values():
            for device_id, device in agent.devices.items():
                update = updates.get(device_id)
                if update is None:
                    raise ValueError(f"device {device_id!r} published no state update this step")
                if isinstance(device, Generator):
                    e = self.generators.element[device.index]
                    b.sgen_p[e], b.sgen_q[e] = update["P_MW"], update["Q_MVAR"]
                elif isinstance(device, ESS):
                    b.storage_p[self.storage.element[device.index]] = update["P_MW"]

    def _solve_network(self) -> bool:
        self._set_profiles()
        return self._solve()

    def _network_payload(self, agent_id: str, converged: bool) -> dict[str, Any]:
        k = self.possible_agents.index(agent_id)
        spec, good = self._mg_specs[k], self._good
        sin, cos = self._hour_features()
        loads = self._load_owner == k
        return {"converged": converged, "vm_pu": good["vm"][spec["bus_pos"]].copy(),
                "line_loading": good["line"][spec["line_pos"]].copy(), "trafo_loading": float(good["trafo"][spec["trafo"]]),
                "p_import": float(good["p_import"][k]), "load_p": float(self.backend.load_p[loads].sum()),
                "price": self._price, "hour_sin": sin, "hour_cos": cos,
                "device_states": {name: {"P_MW": float(self.renewables.p[row])}
                                  for kind, row, name in spec["devices"] if kind in ("solar", "wind")}}

    def _evaluate_agent(self, agent: GridAgent, proxy: Proxy) -> tuple[np.ndarray, float, float]:
        network = proxy.network_state[agent.agent_id]
        measured = network["device_states"]  # what the env measured (renewable output follows the weather)
        states = {d: {**proxy.reports[d], **measured.get(d, {})} for d in agent.devices}
        obs = agent.observation_from(states, network)
        cost = sum(s.get("cost", 0.0) for s in states.values()) + float(self._grid_cost(network["p_import"], network["price"]))
        safety = (float(voltage_violation(network["vm_pu"]).sum()) + float(overload(network["line_loading"]).sum())
                  + float(overload(np.array([network["trafo_loading"]]))[0]) + sum(s.get("safety", 0.0) for s in states.values()))
        return obs, cost, safety


def _checked_dict(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"config {what!r} must be a dict, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(f"{what}: unknown key(s) {unknown}; valid keys: {sorted(allowed)}")
    return dict(value)


def _raise(message: str):
    raise ValueError(message)
