"""The grid model: built once from a config, then only read.

``GridModel.build(config)`` makes the fused pandapower net (the operator feeder with each
microgrid on its own transformer), the device fleets (parameters and initial state, one row
per device), each microgrid's place in the net, and the load, renewable and price profiles as
one array per split. :class:`~powergrid.core.layout.Layout` then compiles every index map the
step uses. Running the model (state that changes) is :class:`~powergrid.core.step.GridCore`'s.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from heron.core.checks import finite_number, is_finite_number
from powergrid.agents.devices import DeviceAgent
from powergrid.agents.fleets import Fleet
from powergrid.agents.object_fleet import object_fleet_class, object_fleet_key
from powergrid.agents.registry import fleet_kinds
from powergrid.core.agent_nets import attach_agent, device_config_of
from powergrid.core.config import DSO_KEYS, checked_dict
from powergrid.core.layout import Layout
from powergrid.core.microgrids import DeviceSpec, Microgrid, MicrogridAssembly, add_device
from powergrid.core.model_cache import cached
from powergrid.core.net_handle import NetHandle
from powergrid.core.regulation import Regulation
from powergrid.networks.compose import OPERATOR_BUILDERS, build_operator_network
from powergrid.compat.config_keys import node_name
from powergrid.setups.loader import DATASET_KINDS, day_shift, load_dataset, load_setup, shifted

if TYPE_CHECKING:
    import pandapower as pp

    from powergrid.powerflow.base import PowerFlowBackend

__all__ = ["GridModel", "Microgrid", "DeviceSpec", "NAMED_FLEETS"]

#: Fleets a model always has (empty when the config has none of their devices): the env and
#: the planners name them (``env.generators``, ``env.storage``, ``env.renewables``).
NAMED_FLEETS = ("generator", "storage", "renewable")
#: The profile column of devices that follow none in a fleet whose other rows do: always 1.
ALWAYS = ("constant", "1")


def _check_operator(dso: Mapping[str, Any]) -> None:
    """The operator network's settings, each named when it is wrong."""
    network = dso.get("network", "IEEE34")
    if not isinstance(network, str) or network not in OPERATOR_BUILDERS:
        raise ValueError(f"config 'dso_config': 'network' must be one of {sorted(OPERATOR_BUILDERS)}, got {network!r}")
    vm_pu = dso.get("vm_pu", 1.05)
    if not (is_finite_number(vm_pu) and 0.5 < vm_pu < 1.5):
        raise ValueError(f"config 'dso_config': 'vm_pu' must be a number in (0.5, 1.5) (the source voltage, pu), got {vm_pu!r}")
    finite_number(dso.get("load_scale", 1.0), "config 'dso_config': 'load_scale'", minimum=0.0)
    for key in ("name", "load_area", "price_area", "renew_area"):
        if key in dso and not isinstance(dso[key], str):
            raise ValueError(f"config 'dso_config': {key!r} must be text, got {dso[key]!r}")
    for key in ("feeders", "feeders_per_substation"):
        count = dso.get(key, 1)
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 1:
            raise ValueError(f"config 'dso_config': {key!r} must be a whole number >= 1, got {count!r}")
    taps = dso.get("regulator_taps", ())
    if not isinstance(taps, (list, tuple)) or not all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in taps):
        raise ValueError(f"config 'dso_config': 'regulator_taps' must be a list of whole numbers, got {taps!r}")


class GridModel:
    """The net, the fleets, the microgrids and the profiles of one config (see the module doc)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        setup = load_setup(config["setup"])
        self.dataset = load_dataset(config["dataset_path"] or setup["dataset_path"])
        self.series: list[tuple[str, str]] = []  # (kind, area) of each profile column
        self._columns: dict[tuple[str, str], int] = {}  # and the other way round
        dso, microgrids = self._merged(setup)
        self.operator_config = dict(dso)  #: the operator network's config (setup merged with dso_config)
        options = {"regulator_taps": tuple(dso["regulator_taps"])} if "regulator_taps" in dso else {}
        feeders = dso.get("feeders")
        self.net, self.operator_buses = build_operator_network(dso.get("network", "IEEE34"), dso.get("name", "DSO"),
                                                               float(dso.get("load_scale", 1.0)), float(dso.get("vm_pu", 1.05)),
                                                               feeders, int(dso.get("feeders_per_substation", 8)), **options)
        #: the operator's automatic voltage regulators (None: they hold their taps)
        self.regulation = Regulation.of(self.net, dso.get("name", "DSO"), dso)
        per_feeder = len(self.net.load) // (feeders or 1)  # feeder j's loads follow the operator's area j days later
        load_series = [self._column("load", shifted(dso["load_area"], j)) for j in range(feeders or 1) for _ in range(per_feeder)]
        self.price_series = self._column("price", dso.get("price_area") or self.only_area("price"))
        if "renew_area" in dso:  # the operator network has no devices; the area must still exist
            self._check_area("solar", dso["renew_area"])
        configs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in fleet_kinds()}
        assembly = MicrogridAssembly(self.net, self.operator_buses, self._column)
        for k, raw in enumerate(microgrids):
            assembly.add(k, raw, configs)
        self.microgrids, loads = assembly.place(configs)
        for count, area in loads:
            load_series += [self._column("load", area)] * count
        self._finish(configs, load_series)

    def _finish(self, configs: Mapping[str, list[dict[str, Any]]], load_series: list[int]) -> None:
        """The fleets from their rows' configs, and the profile columns as arrays."""
        #: every fleet kind of the registry -> its fleet (parameters and initial state), in registry order
        self.fleets: dict[str, Fleet] = {}
        #: a profile fleet's kind -> the profile column of each of its rows
        self.fleet_series: dict[str, np.ndarray] = {}
        for kind, fleet_class in fleet_kinds().items():
            cfgs = configs[kind]
            if not cfgs and kind not in NAMED_FLEETS:
                continue  # a registered type this config does not use
            fleet = self.fleets[kind] = fleet_class(cfgs)
            fleet.element[:] = [c["_element"] for c in cfgs]
            fleet.bus[:] = [c["_bus"] for c in cfgs]
            if fleet_class.PROFILE and any("_profile" in c for c in cfgs):  # rows without a profile follow a constant 1
                self.fleet_series[kind] = np.array([self._column(c["_profile"], c["_area"]) if "_profile" in c else self._column(*ALWAYS)
                                                    for c in cfgs], dtype=np.int64)
        self.load_series = np.array(load_series, dtype=np.int64)
        self.profiles = self._stacked_profiles()

    def _stacked_profiles(self) -> dict[str, np.ndarray]:
        """Per split, the profile columns side by side (hours x columns); read-only, so every
        copy of the model shares them."""
        profiles = {split: np.ascontiguousarray(np.stack([self._profile(split, kind, area) for kind, area in self.series], axis=1))
                    for split in ("train", "test")}
        for columns in profiles.values():
            columns.flags.writeable = False
        return profiles

    def __deepcopy__(self, memo: dict) -> "GridModel":
        """A copy with a net, fleets and state of its own; the read-only data (dataset and profiles,
        300 MB at a thousand microgrids) is shared."""
        for shared in (self.__dict__.get("profiles"), self.__dict__.get("dataset")):
            if shared is not None:
                memo[id(shared)] = shared
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """A pickle leaves out the profiles (derived from the dataset: a thousand microgrids'
        columns are 300 MB, the dataset 12 MB) and rebuilds them when read."""
        return {k: v for k, v in self.__dict__.items() if k != "profiles"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.profiles = self._stacked_profiles()

    def follows_weather(self, kind: str) -> np.ndarray:
        """Which rows of fleet ``kind`` follow a weather profile (solar and wind; a row without
        one follows the constant column)."""
        series = self.fleet_series.get(kind)
        if series is None:
            return np.zeros(self.fleets[kind].size, bool)
        return series != self.series.index(ALWAYS) if ALWAYS in self.series else np.ones(series.size, bool)

    @classmethod
    def build(cls, config: Mapping[str, Any]) -> "GridModel":
        """The model of a validated config (:func:`powergrid.core.config.validated_config`): a
        copy of one built before in this process or read from the cache folder, or a new build
        (:mod:`powergrid.core.model_cache`), compiled with its layout and its backend."""
        return cached(config, lambda config: cls(config).compiled(config["power_flow_backend"]))

    # ------------------------------------------------------------------ the net and what is compiled from it
    @property
    def net(self) -> pp.pandapowerNet:
        """The fused pandapower net. A model read from the cache folder unpickles it on first
        read (:mod:`powergrid.core.net_handle`): stepping never does."""
        return self._net.net

    @net.setter
    def net(self, net: pp.pandapowerNet) -> None:
        self._net = NetHandle(net)
        self._layout, self._backends = None, {}  # compiled from the net before: no longer its

    @property
    def layout(self) -> Layout:
        """Every index map of the step (:class:`~powergrid.core.layout.Layout`), compiled on first use."""
        if self._layout is None:
            self._layout = Layout(self)
        return self._layout

    def compiled(self, backend: str) -> "GridModel":
        """This model with its layout and backend ``backend`` compiled, to be kept with it (in the
        cache folder too: a model read from there needs neither the net nor pandapower)."""
        self._backends[backend] = self.backend(backend)
        _ = self.layout
        return self

    def backend(self, name: str) -> PowerFlowBackend:
        """The power-flow backend ``name`` of this model: the one compiled with it (handed out
        once: this model is a copy of the env's own) or a new one built from the net."""
        from powergrid.powerflow import make_backend  # a backend's module imports its solver

        ready = self._backends.pop(name, None)
        return ready if ready is not None else make_backend(self._net, name)

    def seal(self) -> None:
        """Hold the net as its pickle (a kept model: its copies then share the bytes, and only
        those that read the net unpickle it)."""
        self._net.seal()

    @classmethod
    def from_agents(cls, config: Mapping[str, Any], net: pp.pandapowerNet, agents: Mapping[str, Any]) -> "GridModel":
        """The model of a net an env subclass built with its controllers, the earlier package's
        way (``PowerGridAgent(net=..., grid_config=...)`` with ``add_dataset``): each agent owns
        the buses, lines and loads whose names start with its id (contiguous), is connected by
        the transformer feeding them (or, fed by an external grid of its own, through a 1:1
        metering transformer of negligible impedance added here), scales its loads by its
        ``load_scale`` and has its devices at ``"<id> Bus <node>"``. Its dataset is its profile
        area in both splits; the first agent's price is the price. Works on a copy of ``net``."""
        if not agents:
            raise ValueError("_build_agents returned no agents")
        self = cls.__new__(cls)
        self.config, self.net, self.operator_buses, self.series, self._columns = config, copy.deepcopy(net), {}, [], {}
        self.regulation = None  # their nets' taps hold
        self.dataset = {split: {kind: {} for kind in DATASET_KINDS} for split in ("train", "test")}
        self.microgrids, configs = [], {kind: [] for kind in fleet_kinds()}
        objects: dict[str, list[dict[str, Any]]] = {}  # devices written as classes, by their fleet
        load_series = [None] * len(self.net.load)
        for name, agent in agents.items():
            if getattr(agent, "dataset", None) is None:
                raise ValueError(f"agent {name!r} has no dataset: call its add_dataset(...) in _build_agents")
            for split in ("train", "test"):
                for kind in DATASET_KINDS:
                    self.dataset[split][kind][name] = agent.dataset[kind]
            mg = Microgrid(name, *attach_agent(self.net, name, float(getattr(agent, "load_scale", 1.0))), float(agent.base_power), [])
            column = self._column("load", name)
            for i in np.flatnonzero(self.net.load.bus.isin(self.net.bus.index[mg.buses]).to_numpy()):
                load_series[i] = column
            nodes = {str(n).rsplit(" Bus ", 1)[-1]: int(b) for b, n in zip(self.net.bus.index[mg.buses], self.net.bus.name[mg.buses])}
            for device_id, device in agent.devices.items():
                if getattr(device, "parameters", None) is None and isinstance(device, DeviceAgent):  # a device written as a class
                    mg.devices.append(self._add_object_device(mg, nodes, device, objects))
                else:
                    mg.devices.append(add_device(mg, self.net, nodes, {"renew_area": name}, device_config_of(device_id, device),
                                                 configs, self._column, trafo=mg.trafo))
            self.microgrids.append(mg)
        first = next(iter(agents))
        for name in agents:
            if not np.array_equal(self.dataset["train"]["price"][name], self.dataset["train"]["price"][first]):
                raise ValueError(f"agents {first!r} and {name!r} have different prices; the network has one price")
        self.price_series = self._column("price", first)
        always = self._column(*ALWAYS)  # loads outside every agent keep their base value
        self._finish(configs, [always if c is None else c for c in load_series])
        for kind, rows in objects.items():
            fleet = self.fleets[kind] = rows[0]["class"](rows)
            fleet.element[:], fleet.bus[:] = [c["_element"] for c in rows], [c["_bus"] for c in rows]
        return self

    def _add_object_device(self, mg: Microgrid, nodes: Mapping[str, int], device: DeviceAgent,
                           objects: dict[str, list[dict[str, Any]]]) -> DeviceSpec:
        """A device written as a class (see :mod:`powergrid.agents.object_fleet`): an element
        at its bus, a row of the object fleet of devices like it."""
        node = str(node_name(device.bus)) if device.bus is not None else None
        if node not in nodes:
            raise ValueError(f"device {device.agent_id!r}: bus {device.bus!r} is not a node of {mg.name}; nodes: {sorted(nodes)}")
        key = object_fleet_key(device)
        kind = next((k for k, rows in objects.items() if object_fleet_key(rows[0]["device"]) == key), f"object {len(objects)}")
        rows = objects.setdefault(kind, [])
        fleet_class = rows[0]["class"] if rows else object_fleet_class(device)
        name = device.agent_id
        rows.append({"name": name, "device": device, "class": fleet_class, "_bus": nodes[node],
                     "_element": fleet_class.create_element(self.net, nodes[node], name, None)})
        return DeviceSpec("object", len(rows) - 1, name, fleet=kind)

    # The built-in fleets by name (empty fleets when a config has none of them).
    generators = property(lambda self: self.fleets["generator"])
    storage = property(lambda self: self.fleets["storage"])
    renewables = property(lambda self: self.fleets["renewable"])

    @property
    def agent_ids(self) -> list[str]:
        return [mg.name for mg in self.microgrids]

    # ------------------------------------------------------------------ build
    def _merged(self, setup: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        """The operator network's config (the setup's, with the user's overrides) and the microgrids."""
        cfg = self.config
        dso, user_dso = dict(setup["dso_config"]), checked_dict(cfg["dso_config"], "config 'dso_config'", DSO_KEYS)
        network = user_dso.get("network", dso.get("network"))
        if isinstance(network, str) and network != dso.get("network"):
            dso.pop("regulator_taps", None)  # the setup's taps belong to the setup's own feeder
        dso.update(user_dso)
        _check_operator(dso)
        microgrids = cfg["microgrid_configs"] if cfg["microgrid_configs"] is not None else setup["microgrid_configs"]
        if not isinstance(microgrids, (list, tuple)) or not microgrids:
            raise ValueError(f"config 'microgrid_configs' must be a non-empty list, got {microgrids!r}")
        return dso, microgrids

    def only_area(self, kind: str) -> str:
        """The dataset's one area of ``kind`` (a config that names none, as the earlier setups)."""
        areas = sorted(self.dataset["train"][kind])
        if len(areas) != 1:
            raise ValueError(f"config 'dso_config' names no {kind}_area and the dataset has {len(areas)}: {areas}")
        return areas[0]

    def _profile(self, split: str, kind: str, area: str) -> np.ndarray:
        if (kind, area) == ALWAYS:
            return np.ones(len(next(iter(self.dataset[split]["load"].values()))))
        profiles = self.dataset[split][kind]
        if area in profiles:
            return profiles[area]
        base, days = day_shift(area)
        return np.roll(profiles[base], -24 * days)

    def _column(self, kind: str, area: str) -> int:
        """The profile column of ``kind`` in ``area`` (added on first use)."""
        if not isinstance(area, str):
            self._check_area(kind, area)  # raises, naming the value
        column = self._columns.get((kind, area))
        if column is None:
            if (kind, area) != ALWAYS:
                self._check_area(kind, area)
            column = self._columns[kind, area] = len(self.series)
            self.series.append((kind, area))
        return column

    def _check_area(self, kind: str, area: Any) -> None:
        """Both splits of the dataset must have a ``kind`` profile for ``area`` (or, for an area
        written ``"<area>+<k>d"``, for the area it shifts)."""
        if not isinstance(area, str):
            raise ValueError(f"a {kind} area must be the name of a dataset area, got {area!r}")
        for split in ("train", "test"):
            profiles = self.dataset[split][kind]
            if area not in profiles and day_shift(area)[0] not in profiles:
                raise ValueError(f"the dataset has no {kind} profile for area {area!r} in {split!r}; it has {sorted(profiles)} "
                                 "(an area may be shifted by whole days: 'AREA+3d')")
