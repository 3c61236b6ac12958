"""The microgrids of a config, placed in the fused net.

Each microgrid is checked on its own (names, nodes, device parameters: every error names the
microgrid and the device). Its elements are not created one by one in the fused net: each
distinct microgrid (its network, load scale, connection voltage and devices with their
parameters; names and profile areas aside) is built once into a net of its own, a *part*, and
every microgrid becomes a copy of its part, all appended at once
(:func:`powergrid.networks.replicate.append_copies`). The fused net is the same, row for row,
as building every microgrid element by element; a thousand microgrids take about a second
instead of minutes.
"""
from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from heron.core.checks import finite_number
from powergrid.agents.registry import device_type
from powergrid.core.config import MICROGRID_KEYS, checked_dict
from powergrid.networks._feeder import require_name
from powergrid.networks.compose import attach_ieee13_microgrid, empty_network
from powergrid.networks.replicate import Copy, Part, append_copies
from powergrid.compat.config_keys import node_name, translated_device

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["DeviceSpec", "Microgrid", "MicrogridAssembly", "add_device"]

TABLES = ("bus", "line", "trafo", "load", "sgen", "storage", "shunt")


@dataclass(frozen=True)
class DeviceSpec:
    """One device of a microgrid: its kind (registry), its row in its fleet (or, for a tap
    changer or capacitor bank, its element in the net) and its discrete parameters."""

    kind: str
    row: int
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    fleet: str = ""  # the fleet kind (registry) whose row it is; empty for a tap changer or capacitor bank


@dataclass
class Microgrid:
    """A microgrid's place in the fused net: its buses and lines (contiguous blocks), its
    connection transformer, its base power (MVA) and its devices in config order."""

    name: str
    buses: slice
    lines: slice
    trafo: int
    base_power: float
    devices: list[DeviceSpec]

    @property
    def bus_positions(self) -> np.ndarray:
        return np.arange(self.buses.start, self.buses.stop)

    @property
    def line_positions(self) -> np.ndarray:
        return np.arange(self.lines.start, self.lines.stop)


@dataclass
class _Shape:
    """A part and what its devices made in it: per device, the (table, row) of the element it
    is (its first; a tap changer's is the transformer) and the names of every element it added."""

    part: Part
    index: int  # of the part among the assembly's
    nodes: dict[str, int]  # node -> part bus
    trafo: int
    elements: list[tuple[str, int]]
    added: list[dict[tuple[str, int], str]]  # per device: (table, row) -> name, of the elements it added
    device_names: list[str]  # the part's devices' names, which lead their elements' names
    loads: int


class MicrogridAssembly:
    """Checks microgrid configs one by one (:meth:`add`), then places them all (:meth:`place`).

    ``column(kind, area)`` gives the profile column of a device's output (the model's)."""

    def __init__(self, net: pp.pandapowerNet, operator_buses: Mapping[str, int],
                 column: Callable[[str, str], int]) -> None:
        self.net, self.operator_buses, self.column = net, operator_buses, column
        self.shapes: dict[bytes, _Shape] = {}
        self.parts: list[Part] = []
        self.names: set[str] = set()
        self.pending: list[tuple[Microgrid, _Shape, Copy, str]] = []  # the microgrid, its shape, its copy, its load area

    def add(self, k: int, raw: Any, configs: dict[str, list[dict[str, Any]]]) -> None:
        """Check ``microgrid_configs[k]``; its devices' fleet rows go to ``configs``."""
        mg = checked_dict(raw, f"config 'microgrid_configs[{k}]'", MICROGRID_KEYS)
        for key in ("name", "connection_bus", "load_area", "renew_area", "devices"):
            if key not in mg:
                raise ValueError(f"microgrid_configs[{k}] is missing {key!r}")
        name = mg["name"]
        require_name(name, f"microgrid_configs[{k}]: name (the agent id)")
        if name in self.names:
            raise ValueError(f"two microgrids are named {name!r}")
        self.names.add(name)
        if not isinstance(mg.get("network", "IEEE13"), str) or mg.get("network", "IEEE13") != "IEEE13":
            raise ValueError(f"microgrid {name!r}: network must be 'IEEE13', got {mg['network']!r}")
        base_power = finite_number(mg.get("base_power", 1.0), f"microgrid {name!r}: base_power (MVA)", above=0.0)
        load_scale = finite_number(mg.get("load_scale", 1.0), f"microgrid {name!r}: load_scale", minimum=0.0)
        connection = str(node_name(mg["connection_bus"]))
        if connection not in self.operator_buses:
            raise ValueError(f"microgrid {name!r}: connection_bus {connection!r} is not a node of the operator network; "
                             f"nodes: {sorted(self.operator_buses)}")
        if not isinstance(mg["devices"], (list, tuple)):
            raise ValueError(f"microgrid {name!r}: devices must be a list, got {mg['devices']!r}")
        bus = self.operator_buses[connection]
        kv = float(self.net.bus.vn_kv.at[bus])
        key = _shape_key(mg, load_scale, kv)
        shape = self.shapes.get(key) if key is not None else None
        spec = Microgrid(name, slice(0, 0), slice(0, 0), -1, base_power, [])
        if shape is None:
            shape = self._build_shape(spec, mg, load_scale, kv, configs)
            if key is not None:
                self.shapes[key] = shape
        else:
            for dev in mg["devices"]:
                spec.devices.append(add_device(spec, None, shape.nodes, mg, dev, configs, self.column, trafo=shape.trafo))
        self.column("load", mg["load_area"])  # after its devices' columns, as the profiles have always been ordered
        names = {}  # each added element named as the element-by-element build names it: its device's name leads
        for added, template, dev in zip(shape.added, shape.device_names, mg["devices"]):
            names.update({where: str(dev["name"]) + old[len(template):] if isinstance(old, str) and old.startswith(template) else old
                          for where, old in added.items()})
        self.pending.append((spec, shape, Copy(shape.index, name, (bus,), names), mg["load_area"]))

    def _build_shape(self, spec: Microgrid, mg: Mapping[str, Any], load_scale: float, kv: float,
                     configs: dict[str, list[dict[str, Any]]]) -> _Shape:
        """The microgrid's part: a port bus standing for its connection bus, its network and its
        devices, built element by element; what each device made is recorded."""
        import pandapower as pp
        part = empty_network(spec.name)
        port = pp.create_bus(part, vn_kv=kv, name=f"{spec.name} port")
        nodes, trafo = attach_ieee13_microgrid(part, port, spec.name, load_scale)
        elements, added = [], []
        for dev in mg["devices"]:
            before = {t: len(part[t]) for t in TABLES}
            spec.devices.append(add_device(spec, part, nodes, mg, dev, configs, self.column, trafo=trafo))
            made = [(t, row) for t in TABLES for row in range(before[t], len(part[t]))]
            elements.append(made[0] if made else ("trafo", trafo))  # a tap changer makes nothing: it is the transformer
            added.append({(t, part[t].index[row]): part[t].name.iloc[row] for t, row in made})
        self.parts.append(Part(part, spec.name, (port,)))
        return _Shape(self.parts[-1], len(self.parts) - 1, nodes, trafo, elements, added, [str(dev["name"]) for dev in mg["devices"]],
                      len(part.load))

    def place(self, configs: Mapping[str, list[dict[str, Any]]]) -> tuple[list[Microgrid], list[tuple[int, str]]]:
        """Append every microgrid to the net; returns them placed, and the load rows each
        added with its load area (``(count, area)``, in net order)."""
        placed = append_copies(self.net, self.parts, [copy for _, _, copy, _ in self.pending])
        microgrids, loads = [], []
        for (spec, shape, _, area), where in zip(self.pending, placed):
            bus, line = where.rows["bus"], where.rows.get("line", np.zeros(0, dtype=np.int64))
            own = np.delete(bus, list(shape.part.ports))
            spec.buses = slice(int(own[0]), int(own[-1]) + 1)
            spec.lines = slice(int(line[0]), int(line[-1]) + 1) if line.size else slice(0, 0)
            spec.trafo = int(where.rows["trafo"][shape.trafo])
            for i, ((table, row), device) in enumerate(zip(shape.elements, spec.devices)):
                element = int(where.rows[table][row])
                if device.fleet:
                    cfg = configs[device.fleet][device.row]
                    cfg["_element"], cfg["_bus"] = element, int(bus[cfg["_bus"]])
                else:
                    spec.devices[i] = replace(device, row=element)
            microgrids.append(spec)
            loads.append((shape.loads, area))
        return microgrids, loads


def _shape_key(mg: Mapping[str, Any], load_scale: float, kv: float) -> bytes | None:
    """What a microgrid's part depends on; None when that cannot be told (objects in its config)."""
    try:
        devices = [{k: v for k, v in dev.items() if k != "name"} if isinstance(dev, Mapping) else dev for dev in mg["devices"]]
        return pickle.dumps((mg.get("network", "IEEE13"), load_scale, kv, devices))
    except Exception:  # noqa: BLE001 - not picklable: the microgrid gets a part of its own
        return None


def add_device(mg: Microgrid, net: pp.pandapowerNet | None, buses: Mapping[str, int], raw: Mapping[str, Any], dev: Any,
               configs: dict[str, list[dict[str, Any]]], column: Callable[[str, str], int], trafo: int) -> DeviceSpec:
    """Check device ``dev`` of microgrid ``mg`` and add its element to ``net`` (None: check only,
    the element comes with a copy); a fleet device's row config goes to ``configs`` (its
    ``_element`` and ``_bus`` are those in ``net``). ``trafo``: the connection transformer."""
    if not isinstance(dev, Mapping) or "type" not in dev or "name" not in dev:
        raise ValueError(f"microgrid {mg.name!r}: each device needs 'type' and 'name', got {dev!r}")
    dtype = device_type(dev["type"], dev["name"])
    dev = translated_device(dtype.kind, dev)  # a config in the earlier package's keys, as ours
    kind, cfg = dtype.kind, dtype.checked(dev, f"microgrid {mg.name!r}")
    node = str(dev.get("bus", "650"))
    if node not in buses:
        raise ValueError(f"device {dev['name']!r}: bus {node!r} is not a node of {mg.name}; nodes: {sorted(buses)}")
    name = str(dev["name"])
    cfg["name"], cfg["_bus"] = name, buses[node]
    if kind == "oltc":
        return DeviceSpec(kind, trafo, name, _tap_changer(mg, net, trafo, name, dev))
    if kind == "shunt":
        params = {"q_step_mvar": float(dev.get("q_step_mvar", 0.05)), "max_step": int(dev.get("max_step", 4)),
                  "step": int(dev.get("step", 0))}
        if not (params["q_step_mvar"] > 0 and params["max_step"] >= 1 and 0 <= params["step"] <= params["max_step"]):
            raise ValueError(f"device {name!r}: needs q_step_mvar > 0, max_step >= 1, 0 <= step <= max_step, got {dev!r}")
        element = -1
        if net is not None:  # a capacitor bank is a shunt of the net
            import pandapower as pp

            element = pp.create_shunt(net, buses[node], q_mvar=-params["q_step_mvar"], p_mw=0.0, step=params["step"],
                                      max_step=params["max_step"], name=name)
        return DeviceSpec(kind, element, name, params)
    probe = dtype.fleet([cfg])  # validates before the net is touched
    cfg["_element"] = -1 if net is None else dtype.fleet.create_element(net, buses[node], name, probe)
    profile = dtype.profile or cfg.get("source")  # a type's own profile, or the device's source
    if profile is not None:  # its output follows the microgrid's area profile
        cfg["_profile"], cfg["_area"] = profile, raw["renew_area"]
        column(profile, raw["renew_area"])
    rows = configs[dtype.fleet_kind]
    rows.append(cfg)
    return DeviceSpec(kind, len(rows) - 1, name, fleet=dtype.fleet_kind)


def _tap_changer(mg: Microgrid, net: pp.pandapowerNet | None, trafo: int, name: str, dev: Mapping[str, Any]) -> dict[str, int]:
    """The microgrid's connection transformer becomes an on-load tap changer."""
    if any(d.kind == "oltc" for d in mg.devices):
        raise ValueError(f"device {name!r}: microgrid {mg.name!r} has one connection transformer and already an OLTC")
    params = {"tap_min": int(dev.get("tap_min", -8)), "tap_max": int(dev.get("tap_max", 8)), "tap_pos": int(dev.get("tap_pos", 0))}
    step = float(dev.get("tap_step_percent", 0.625))
    if not (params["tap_min"] <= params["tap_pos"] <= params["tap_max"]) or not 0.0 < step <= 5.0:
        raise ValueError(f"device {name!r}: needs tap_min <= tap_pos <= tap_max and 0 < tap_step_percent <= 5, got {dev!r}")
    if net is not None:
        for column, value in (("tap_side", "hv"), ("tap_neutral", 0), ("tap_min", params["tap_min"]), ("tap_max", params["tap_max"]),
                              ("tap_step_percent", step), ("tap_pos", params["tap_pos"]), ("tap_changer_type", "Ratio")):
            net.trafo.loc[trafo, column] = value
    return params
