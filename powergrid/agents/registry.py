"""The device types a microgrid config can name, each declared once.

A type says which config names select it (``"Generator"``, ``"DG"``...), which config keys it
reads (anything else is a typo and raises), its fleet (:class:`~powergrid.agents.fleets.Fleet`:
the arrays and physics, which declare the action layout, the observed fields and what enters
the power flow), the agent that stands for one device of it, and, for renewables, the dataset
profile its output follows. The model builder, the layout, the step, the controllers'
observations and the distributed exchange all go through this table, so a device type of your
own is one module: its fleet, its agent and a call to :func:`register_device_type`. The built-in
types register themselves the same way, in :mod:`powergrid.agents.devices`: this table names no
device class.

Tap changers and capacitor banks are settings of network elements, not devices with a fleet:
they have ``discrete`` set and a discrete action entry each.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from powergrid.agents.fleets import Fleet

__all__ = ["DeviceType", "DEVICE_TYPES", "device_type", "observed_fields", "register_device_type", "fleet_kinds", "by_kind",
           "COMMON_KEYS"]

#: Keys every device config may have: what it is, its name, and its bus in the microgrid.
COMMON_KEYS = frozenset({"type", "name", "bus"})


@dataclass(frozen=True)
class DeviceType:
    """``kind`` names the type; ``fleet_kind`` the fleet its devices share (solar and wind
    plants share the renewable fleet), ``fleet`` its class and ``agent`` a callable
    ``agent(name, fleet, row, bus=...)`` making the agent of the device in row ``row``."""

    kind: str
    aliases: tuple[str, ...]
    keys: frozenset[str]
    fleet: type[Fleet] | None = None
    agent: Callable[..., Any] | None = None
    fleet_kind: str = ""
    profile: str | None = None
    discrete: bool = False
    observed_discrete: tuple[tuple[str, bool], ...] = ()

    def __post_init__(self) -> None:
        if not self.fleet_kind:  # a type of its own fleet
            object.__setattr__(self, "fleet_kind", self.kind)

    @property
    def action_c(self) -> int:
        return len(self.fleet.ACTION) if self.fleet else 0

    @property
    def action_d(self) -> int:
        return 1 if self.discrete else 0

    @property
    def observed(self) -> tuple[tuple[str, bool], ...]:
        """(field, is_power) of what a controller observes of a device of this type."""
        return tuple((name, power) for name, _, power in self.fleet.OBSERVED) if self.fleet else self.observed_discrete

    @property
    def reports(self) -> tuple[str, ...]:
        """The state-update keys whose values enter the power flow (devices with an action)."""
        if self.discrete:
            return tuple(name for name, _ in self.observed_discrete)
        return tuple(key for key, _, _ in self.fleet.REPORTS) if self.fleet and self.fleet.ACTION else ()

    def checked(self, config: Mapping[str, Any], where: str) -> dict[str, Any]:
        """``config`` without the common keys; unknown keys raise naming the device."""
        unknown = sorted(set(config) - COMMON_KEYS - self.keys)
        if unknown:
            raise ValueError(f"{where}: device {config.get('name')!r} ({config.get('type')}): unknown key(s) {unknown}; "
                             f"valid keys: {sorted(COMMON_KEYS | self.keys)}")
        return {k: v for k, v in config.items() if k not in COMMON_KEYS}


#: Config ``type`` name -> its device type.
DEVICE_TYPES: dict[str, DeviceType] = {}
_BY_KIND: dict[str, DeviceType] = {}
#: The agent classes' ``kind`` -> the device type (a renewable agent serves solar and wind).
_AGENT_KINDS = {"generator": "generator", "storage": "storage", "renewable": "solar", "transformer": "oltc", "shunt": "shunt"}
#: How many registrations were made: a model built under an older count may name other types.
_registrations = 0


def registrations() -> int:
    """How many device types were registered so far (the built-in ones included): a model
    built from the same config under the same count used the same types."""
    return _registrations


def register_device_type(device_type: DeviceType, agent_kind: str | None = None) -> DeviceType:
    """Make a device type nameable in configs (its ``aliases``); ``agent_kind`` is the ``kind``
    attribute of its agent class (defaults to the type's ``kind``), by which controllers know
    what they observe of its devices. Registering a ``kind`` again replaces it (a module run
    twice); an alias of another kind raises ``ValueError``. Envs built before keep their types."""
    if not device_type.discrete and (device_type.fleet is None or device_type.agent is None):
        raise ValueError(f"device type {device_type.kind!r} needs a fleet class and an agent")
    taken = sorted(a for a in device_type.aliases if a in DEVICE_TYPES and DEVICE_TYPES[a].kind != device_type.kind)
    if taken:
        raise ValueError(f"device type {device_type.kind!r}: name(s) {taken} already name another device type")
    global _registrations
    _registrations += 1
    for alias in device_type.aliases:
        DEVICE_TYPES[alias] = device_type
    _BY_KIND[device_type.kind] = device_type
    _AGENT_KINDS.setdefault(agent_kind or device_type.kind, device_type.kind)
    return device_type


def fleet_kinds() -> dict[str, type[Fleet]]:
    """Every fleet kind and its class, in registration order: the order of the model's fleets
    and of the observation source."""
    kinds: dict[str, type[Fleet]] = {}
    for t in _BY_KIND.values():
        if t.fleet is not None:
            kinds.setdefault(t.fleet_kind, t.fleet)
    return kinds


def by_kind(kind: str) -> DeviceType:
    """The registered type whose ``kind`` is ``kind``."""
    return _BY_KIND[kind]


def device_type(name: Any, device: Any = "?") -> DeviceType:
    """The type a config's ``type`` names; raises naming the device and the valid names."""
    found = DEVICE_TYPES.get(name) if isinstance(name, str) else None
    if found is None:
        raise ValueError(f"device {device!r}: unknown type {name!r}; expected one of {sorted(DEVICE_TYPES)}")
    return found


def observed_fields(agent_kind: str) -> tuple[tuple[str, bool], ...] | None:
    """The state fields a controller observes of a device agent of this ``kind``; None for a
    kind no device type registered (a device written as a class: it says itself)."""
    kind = _AGENT_KINDS.get(agent_kind)
    return _BY_KIND[kind].observed if kind else None
