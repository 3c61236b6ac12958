"""DeviceAgent: the base of every device agent, and of devices written as a class of your own.

(The earlier HERON/PowerGrid's module path of ``DeviceAgent``; the device types built on it are
in :mod:`powergrid.agents.devices`.)
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Iterable

import numpy as np

from heron.agents.field_agent import FieldAgent
from heron.core.action import Action
from heron.core.features import FeatureProvider, State
from heron.messaging.base import Message, MessageType
from heron.messaging.channels import ChannelManager
from powergrid.agents.registry import observed_fields as registered_fields
from powergrid.core.features.electrical import ElectricalBasePh

__all__ = ["DeviceAgent", "DeviceState", "power_state"]


_state_update_channel = functools.lru_cache(maxsize=64)(ChannelManager.state_update_channel)  # spelled once per env


class DeviceState(State):
    """A State whose values read and write as attributes: ``state.P_MW``, ``state.soc``.
    ``owner_level`` is the earlier package's constructor keyword (the owner's hierarchy level)."""

    def __init__(self, owner_id: str = "", features: Iterable[FeatureProvider] = (), owner_level: int = 1) -> None:
        super().__init__(owner_id, features)
        self.owner_level = int(owner_level)

    def _feature_with(self, key: str) -> FeatureProvider | None:
        for feature in self.__dict__.get("_features", {}).values():
            if key in feature._values:
                return feature
        return None

    def __getattr__(self, key: str) -> Any:
        feature = self._feature_with(key) if not key.startswith("_") else None
        if feature is None:
            raise AttributeError(f"device state of {self.__dict__.get('owner_id')!r} has no value {key!r}")
        return feature[key]

    def __setattr__(self, key: str, value: Any) -> None:
        feature = self._feature_with(key) if not key.startswith("_") and key not in ("owner_id", "owner_level") else None
        if feature is None:
            object.__setattr__(self, key, value)
        else:
            feature.set_values(**{key: value})


def power_state(owner: str, **extra: float) -> DeviceState:
    """A device's state: ``P_MW``, ``Q_MVAR`` and ``extra`` values, seen by it and its controller."""
    return DeviceState(owner, [FeatureProvider("power", visibility=["owner", "coordinator"], P_MW=0.0, Q_MVAR=0.0, **extra)])


class DeviceAgent(FieldAgent):
    """A device at a bus of a microgrid. ``P_MW`` follows the load convention (positive
    consumes) unless a subclass says otherwise; ``cost`` and ``safety`` are this step's.

    A device of your own written as a class: override ``update_state`` (its physics: it reads
    ``self.action.c`` and sets its state's ``P_MW``, ``Q_MVAR`` or ``Q_MVAr``) and
    ``update_cost_safety``, or ``_execute_local_action`` as the FAQ's ``EVCharger``. The
    earlier package's hooks are kept: ``set_device_action``, ``set_device_state`` and
    ``reset_device``, and the constructor keyword ``device_config``. In a microgrid it is placed
    in pandapower's ``element_type`` table (``"storage"``: the load convention, or ``"sgen"``, positive
    injects), and its controller observes the features its state shows its coordinator.

    In distributed mode a device publishes its state after each action on the env's
    state-update channel: when it runs behind its own proxy, or when ``publishes_state`` is set
    (a device on its microgrid controller's local bus, sending its telemetry to the broker).
    """

    kind = "device"
    element_type = "storage"

    def __init__(self, agent_id: str | None = None, bus: str | int | None = None, policy: Any = None, *,
                 action: Action | None = None, state: State | Iterable[FeatureProvider] | None = None,
                 dt_h: float = 1.0, device_config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        if device_config is not None and not isinstance(device_config, Mapping):
            raise ValueError(f"device {agent_id!r}: device_config must be a dict, got {device_config!r}")
        self.device_config = dict(device_config or {})
        agent_id = agent_id or self.device_config.get("name") or "device_agent"  # the earlier default name
        super().__init__(agent_id, policy=policy, action=action, state=state if state is not None else power_state(agent_id), **kwargs)
        if not isinstance(getattr(type(self), "bus", None), property):  # a subclass may derive its bus
            self.bus = bus
        self.dt_h = float(dt_h)
        self.cost = 0.0
        self.safety = 0.0
        self.publishes_state = False
        self.published: dict[str, float] | None = None  # the last state update it published (its controller reads it too)

    @property
    def current_time(self) -> float:
        return self.timestamp

    # The earlier package's names of the construction and reset hooks.
    def set_action(self) -> None:
        self.set_device_action()

    def set_state(self) -> None:
        self.set_device_state()

    def set_device_action(self) -> None:
        """Declare the action (``self.action.set_specs(...)``); the earlier name of ``set_action``."""

    def set_device_state(self) -> None:
        """Declare the state (``self.state = DeviceState(...)``); the earlier name of ``set_state``."""

    def reset_device(self, *args: Any, **kwargs: Any) -> None:
        """A device's own reset, after the agent's (its state's features back to their initial values)."""

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.cost = self.safety = 0.0
        self.reset_device()

    # ----------------------------------------------------------------- acting
    def apply(self, action: np.ndarray) -> None:
        """Execute ``action`` (its continuous entries): what the step calls in every mode."""
        action = np.asarray(action, dtype=np.float64)
        self.action.set_values(action)
        self._execute_local_action(action)

    def _execute_local_action(self, action: np.ndarray) -> None:
        """Its physics (``update_state`` on ``self.action``), then its cost and safety; in distributed
        mode, its state update to the env."""
        self.action.set_values(action)
        self.update_state()
        self.update_cost_safety()
        self._publish_state_updates()

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """The device's physics on ``self.action``; the generic device's action is [P_MW] or [P_MW, Q_MVAR]."""
        c = self.action.c
        if c.size:
            self.state.P_MW = float(c[0])
        if c.size > 1:
            self.state.Q_MVAR = float(c[1])

    def update_cost_safety(self) -> None:
        """Set ``self.cost`` and ``self.safety`` for the step; devices with costs override."""
        self.cost = 0.0
        self.safety = 0.0

    def power(self) -> tuple[float, float]:
        """(P_MW, Q_MVAR) the device delivers, from its state (the earlier features name Q ``Q_MVAr``)."""
        state = self.state
        p = getattr(state, "P_MW", None)
        q = getattr(state, "Q_MVAR", None)
        q = getattr(state, "Q_MVAr", None) if q is None else q
        if p is None:
            raise ValueError(f"device {self.agent_id!r}: its state has no P_MW, so its power cannot enter the power flow")
        return float(p), 0.0 if q is None else float(q)

    @property
    def electrical(self) -> Any:
        """The earlier package's ``electrical`` feature: the one a subclass set, else a snapshot
        of the power it delivers now (``P_MW``, ``Q_MVAr``): its power changes by its action only."""
        own = self.__dict__.get("_electrical")
        if own is not None:
            return own
        p, q = self.power()
        return ElectricalBasePh(P_MW=p, Q_MVAr=q)

    @electrical.setter
    def electrical(self, feature: Any) -> None:
        self.__dict__["_electrical"] = feature

    def observed_fields(self) -> tuple[tuple[str, bool], ...]:
        """(field, is_power) of what its controller observes: a registered type's fields, or the
        labels of the features its state shows its coordinator."""
        registered = registered_fields(self.kind)
        if registered is not None:
            return registered
        return tuple((f"state.{name}", False) for name in self.state.names("coordinator"))

    def state_update(self) -> dict[str, float]:
        """What the device tells the environment after acting."""
        p, q = self.power()
        update = {"P_MW": p, "Q_MVAR": q, "cost": float(self.cost), "safety": float(self.safety)}
        fields = self.observed_fields()
        if fields and fields[0][0].startswith("state."):
            update.update(zip((name for name, _ in fields), self.state.vector("coordinator").tolist()))
        return update

    def report(self) -> dict[str, Any]:
        """Devices tell their controller the same state they tell the environment."""
        return self.state_update()

    def _publish_state_updates(self) -> None:
        """In distributed mode, report the new state on the env's state-update channel."""
        broker = self.broker
        if broker is not None and (self.distributed or self.publishes_state):
            env_id = self._env_id
            self.published = update = self.state_update()
            broker.publish(_state_update_channel(env_id),
                           Message(env_id, self.agent_id, "environment", self.timestamp, MessageType.STATE_UPDATE, update))
