"""PowerGridAgent: a microgrid controller made the earlier HERON/PowerGrid's way.

The earlier package built a controller from its pandapower net and a ``grid_config`` (its
devices, base power, load scale) and gave it its profiles with ``add_dataset``. This class
does the same over this package's agents: each device of ``grid_config['devices']`` becomes
the registered type's agent over a one-device fleet of its own (keys in either package's
names), so it acts, reports and costs as in the envs. ``GridAgent`` is re-exported: the
earlier module held both.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from heron.protocols.base import Protocol
from powergrid.agents.devices import DeviceAgent, FleetDevice
from powergrid.compat.devices import own_fleet
from powergrid.agents.grid_agent import GridAgent
from powergrid.agents.registry import device_type

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["PowerGridAgent", "GridAgent", "device_from_config"]

GRID_CONFIG_KEYS = {"name", "base_power", "load_scale", "devices", "load_area", "renew_area", "connection_bus", "network"}


def device_from_config(config: Mapping[str, Any], env_id: str | None = None, upstream_id: str | None = None) -> DeviceAgent:
    """The agent of one device config (``{'type': 'Generator', 'name': ..., ...}``, flat or with
    its parameters in ``device_state_config``) on a fleet of its own."""
    if not isinstance(config, Mapping) or "type" not in config:
        raise ValueError(f"a device config needs its 'type', got {config!r}")
    dtype = device_type(config["type"], config.get("name", "?"))
    if dtype.discrete:
        raise ValueError(f"device {config.get('name')!r}: a {config['type']} is a setting of its microgrid's network; "
                         "declare it in the env's microgrid_configs")
    name, fleet, bus, made = own_fleet(dtype, config.get("name"), {k: v for k, v in config.items() if k != "type"})
    return dtype.agent(name, fleet, 0, bus=bus, parameters=made, env_id=env_id, upstream_id=upstream_id)


def _table(device: DeviceAgent) -> str:
    """The pandapower table a device is placed in."""
    return device.fleet.ELEMENT if isinstance(device, FleetDevice) else device.element_type


class PowerGridAgent(GridAgent):
    """A microgrid controller over the devices of ``grid_config`` (see the module doc); its id
    is the net's name. ``sgen`` and ``storage`` are its generators and storage units by id."""

    def __init__(self, protocol: Protocol | None = None, policy: Any = None, upstream_id: str | None = None,
                 env_id: str | None = None, grid_config: Mapping[str, Any] | None = None,
                 devices: Iterable[DeviceAgent] | None = None, centralized: bool = True, net: pp.pandapowerNet | None = None,
                 tick_interval: float = 60.0, obs_delay: float = 0.0, act_delay: float = 0.0, msg_delay: float = 0.0) -> None:
        if net is None:
            raise ValueError("PowerGridAgent needs its pandapower network: net=...")
        grid_config = dict(grid_config or {})
        unknown = sorted(set(grid_config) - GRID_CONFIG_KEYS)
        if unknown:
            raise ValueError(f"grid_config: unknown key(s) {unknown}; valid keys: {sorted(GRID_CONFIG_KEYS)}")
        name = net.name if isinstance(net.name, str) and net.name else grid_config.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("PowerGridAgent needs a name: its net's name or grid_config['name']")
        configs = grid_config.get("devices", [])
        if not isinstance(configs, (list, tuple)):
            raise ValueError(f"grid_config['devices'] must be a list of device configs, got {configs!r}")
        built = [device_from_config(c, env_id, name) for c in configs]
        self.net, self.name, self.grid_config, self.centralized = net, name, grid_config, bool(centralized)
        self.load_scale = float(grid_config.get("load_scale", 1.0))
        self.dataset: dict[str, np.ndarray] | None = None
        self.cost, self.safety = 0.0, 0.0
        super().__init__(name, devices=[*(devices or ()), *built], base_power=float(grid_config.get("base_power", 1.0)),
                         n_buses=len(net.bus), protocol=protocol, policy=policy, upstream_id=upstream_id, env_id=env_id,
                         tick_interval=tick_interval, obs_delay=obs_delay, act_delay=act_delay, msg_delay=msg_delay)

    @property
    def sgen(self) -> dict[str, DeviceAgent]:
        """Its devices placed as static generators (generators, and devices of yours added by ``add_sgen``)."""
        return {d: dev for d, dev in self.devices.items() if _table(dev) == "sgen"}

    @property
    def storage(self) -> dict[str, DeviceAgent]:
        """Its devices placed as storage elements (storage units, and devices of yours added by ``add_storage``)."""
        return {d: dev for d, dev in self.devices.items() if _table(dev) == "storage"}

    def add_sgen(self, devices: DeviceAgent | Iterable[DeviceAgent]) -> None:
        """Place devices of yours (``DeviceAgent`` subclasses) in the net as static generators:
        their ``P_MW`` injects. They join this agent's devices if not there yet."""
        self._place(devices, "sgen")

    def add_storage(self, devices: DeviceAgent | Iterable[DeviceAgent]) -> None:
        """Place devices of yours in the net as storage elements: their ``P_MW`` consumes (charges)."""
        self._place(devices, "storage")

    _add_sgen, _add_storage = add_sgen, add_storage  # the earlier package's names (its example 04 calls them)

    def _place(self, devices: DeviceAgent | Iterable[DeviceAgent], table: str) -> None:
        for device in (devices,) if isinstance(devices, DeviceAgent) else devices:
            if not isinstance(device, DeviceAgent):
                raise ValueError(f"agent {self.name!r}: add_{table} takes device agents, got {device!r}")
            if isinstance(device, FleetDevice):
                if _table(device) != table:
                    raise ValueError(f"device {device.agent_id!r} is a {type(device).__name__}: a {_table(device)} element, not {table}")
            else:
                device.element_type = table
            if self.devices.get(device.agent_id) is device:  # put in ``devices`` by hand, as the earlier example does
                device.upstream_id, device.env_id = self.agent_id, self.env_id
            else:
                self.add_subordinate(device)
        self._wire()  # the controller's action spans its devices, however they joined

    def add_dataset(self, dataset: Mapping[str, Any]) -> None:
        """This microgrid's hourly profiles: ``{'load', 'solar', 'wind', 'price'}`` -> arrays of one length."""
        if not isinstance(dataset, Mapping):
            raise ValueError(f"agent {self.name!r}: dataset must be a dict of profiles, got {type(dataset).__name__}")
        missing = sorted({"load", "solar", "wind", "price"} - set(dataset))
        if missing:
            raise ValueError(f"agent {self.name!r}: dataset lacks {missing}; it needs load, solar, wind and price")
        profiles = {kind: np.asarray(values, dtype=np.float64).reshape(-1) for kind, values in dataset.items()}
        lengths = {kind: len(v) for kind, v in profiles.items()}
        if len(set(lengths.values())) != 1 or not all(np.all(np.isfinite(v)) for v in profiles.values()):
            raise ValueError(f"agent {self.name!r}: profiles must be finite and of one length, got lengths {lengths}")
        self.dataset = profiles
