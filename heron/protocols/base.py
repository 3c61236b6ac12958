"""The protocol contract: how a coordinator's decision becomes its subordinates' messages and actions.

``coordinate(coordinator_state, subordinate_states, coordinator_action, context)`` is the single
source of truth and returns ``(messages, actions)``, two dicts keyed by subordinate id: in
centralized mode the ``actions`` are assigned directly, in distributed mode the ``messages`` are
sent over the broker. Both come from the same computation, so the two modes agree.

A protocol is made of two parts, as in the earlier HERON: a ``CommunicationProtocol`` computes
the messages and an ``ActionProtocol`` the actions (given the messages). ``Protocol(communication_protocol,
action_protocol)`` composes any two; the built-in protocols compute both at once in ``coordinate``
and show their parts as ``communication_protocol`` and ``action_protocol``.
"""
from __future__ import annotations

from abc import ABC, ABCMeta, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from heron.core.action import Action

__all__ = ["Protocol", "NoProtocol", "VerticalProtocol", "HorizontalProtocol", "read_state_value", "is_empty_setpoint",
           "CommunicationProtocol", "ActionProtocol", "NoCommunication", "NoActionCoordination"]

Coordination = tuple[dict[str, Any], dict[str, Any]]


def read_state_value(agent_id: str, state: Any, key: str) -> float:
    """``state[key]`` for a dict, ``state.local[key]`` for an observation-like object."""
    source = state if isinstance(state, Mapping) else getattr(state, "local", None)
    if not isinstance(source, Mapping) or key not in source:
        raise ValueError(f"state of {agent_id!r} has no {key!r}; got {state!r}")
    value = float(source[key])
    if not np.isfinite(value):
        raise ValueError(f"state of {agent_id!r}: {key!r} must be finite, got {value!r}")
    return value


def is_empty_setpoint(share: Any) -> bool:
    """A share that sets nothing: None, an empty message, or a zero-length setpoint (a
    subordinate without an action), bare or as ``{'setpoint': ...}``. Neither mode sends or applies one."""
    if share is None:
        return True
    if type(share) is dict:
        if not share:
            return True
        if len(share) != 1 or "setpoint" not in share:
            return False
        share = share["setpoint"]
    return share is not None and (share.size if type(share) is np.ndarray else np.size(share)) == 0


class CommunicationProtocol(ABC):
    """The message half of a protocol: what each receiver is told."""

    def __init__(self) -> None:
        self.neighbors: set[Any] = set()

    @abstractmethod
    def compute_coordination_messages(self, sender_state: Any, receiver_states: Mapping[str, Any],
                                      context: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """``{receiver id: message dict}``; ``context['coordinator_action']`` is the sender's action."""

    def add_neighbor(self, agent: Any) -> None:
        self.neighbors.add(agent)

    def init_neighbors(self, neighbors: Iterable[Any]) -> None:
        self.neighbors = set(neighbors)


class ActionProtocol(ABC):
    """The action half of a protocol: what each subordinate is set to (None: it decides itself)."""

    @abstractmethod
    def compute_action_coordination(self, coordinator_action: Any, subordinate_states: Mapping[str, Any],
                                    coordination_messages: Mapping[str, Any] | None = None,
                                    context: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``{subordinate id: action or None}``."""


class NoCommunication(CommunicationProtocol):
    def compute_coordination_messages(self, sender_state, receiver_states, context=None) -> dict[str, dict[str, Any]]:
        return {rid: {} for rid in receiver_states}


class NoActionCoordination(ActionProtocol):
    def compute_action_coordination(self, coordinator_action, subordinate_states, coordination_messages=None,
                                    context=None) -> dict[str, Any]:
        return {sid: None for sid in subordinate_states}


class Protocol(metaclass=ABCMeta):
    """Base of every coordination protocol: by default the composition of its two parts."""

    def __init__(self, communication_protocol: CommunicationProtocol | None = None,
                 action_protocol: ActionProtocol | None = None) -> None:
        if communication_protocol is not None and not isinstance(communication_protocol, CommunicationProtocol):
            raise ValueError(f"communication_protocol must be a CommunicationProtocol, got {communication_protocol!r}")
        if action_protocol is not None and not isinstance(action_protocol, ActionProtocol):
            raise ValueError(f"action_protocol must be an ActionProtocol, got {action_protocol!r}")
        self._given_parts = (communication_protocol, action_protocol)

    def _parts(self) -> tuple[CommunicationProtocol, ActionProtocol]:
        """The parts a protocol class is made of (built once per protocol object)."""
        return NoCommunication(), NoActionCoordination()

    def _part(self, i: int) -> Any:
        given = self.__dict__.get("_given_parts", (None, None))[i]
        if given is not None:
            return given
        parts = self.__dict__.get("_own_parts")
        if parts is None:
            parts = self.__dict__["_own_parts"] = self._parts()
        return parts[i]

    @property
    def communication_protocol(self) -> CommunicationProtocol:
        return self._part(0)

    @property
    def action_protocol(self) -> ActionProtocol:
        return self._part(1)

    def no_op(self) -> bool:
        """Whether this protocol neither tells nor sets anything."""
        return isinstance(self.communication_protocol, NoCommunication) and isinstance(self.action_protocol, NoActionCoordination)

    def coordinate(
        self,
        coordinator_state: Any,
        subordinate_states: Mapping[str, Any],
        coordinator_action: Any = None,
        context: Mapping[str, Any] | None = None,
    ) -> Coordination:
        """Return ``(messages, actions)`` keyed by subordinate id: the messages from the
        communication part, then the actions from the action part given those messages."""
        context = {**(context or {}), "coordinator_action": coordinator_action}
        messages = self.communication_protocol.compute_coordination_messages(coordinator_state, subordinate_states, context)
        actions = self.action_protocol.compute_action_coordination(coordinator_action, subordinate_states, messages, context)
        return messages, actions

    def coordinator_action_spec(self, subordinate_actions: Mapping[str, Action], owner: str = "coordinator") -> Action:
        """The action a coordinator using this protocol chooses; none by default."""
        return Action(owner=owner)

    def bind(self, subordinate_actions: Mapping[str, Action]) -> None:
        """Precompute whatever depends only on the subordinates (called once at wiring time)."""

    def coordinate_action(self, devices: Mapping[str, Any], obs: Any, action: Any) -> dict[str, Any] | None:
        """Centralized mode: hand each subordinate agent its share directly; returns the shares.

        A protocol that acts on the agents itself returns None (the coordinator then leaves the
        subordinates alone); subordinates without a share act on their own policies.
        """
        _, actions = self.coordinate(None, devices, action)
        shares = {sid: share for sid, share in actions.items() if not is_empty_setpoint(share)}
        for sid, share in shares.items():
            devices[sid].act(None, upstream_action=share)
        return shares

    def coordinate_message(self, devices: Mapping[str, Any], obs: Any, action: Any) -> dict[str, Any]:
        """Distributed mode: the message payload each subordinate is sent."""
        messages, _ = self.coordinate(None, devices, action)
        return messages


class NoProtocol(Protocol):
    """No coordination: subordinates act on their own policies; nothing is sent (each gets an
    empty message and no action)."""


class VerticalProtocol(Protocol):
    """Parent-to-child coordination (a coordinator over its subordinates).

    By default a coordinator's action covers its subordinates' actions (the concatenation of
    their continuous parts, then of their discrete parts). Subclasses override ``coordinate``, or
    only ``coordinate_action(devices, obs, action)`` to act on subordinate agents directly
    (the base implementation sends nothing: subordinates act on their own policies).
    """

    def coordinate(self, coordinator_state, subordinate_states, coordinator_action=None, context=None) -> Coordination:
        return {}, {}

    def coordinator_action_spec(self, subordinate_actions: Mapping[str, Action], owner: str = "coordinator") -> Action:
        subs = list(subordinate_actions.values())
        low = np.concatenate([a.low for a in subs]) if subs else np.zeros(0)
        high = np.concatenate([a.high for a in subs]) if subs else np.zeros(0)
        ncats = [int(n) for a in subs for n in a.ncats]
        return Action(dim_c=low.size, dim_d=len(ncats), ncats=ncats, range=(low, high), owner=owner)


class HorizontalProtocol(Protocol):
    """Peer-to-peer coordination mediated by the environment (or a market agent).

    ``coordinate`` computes the outcome directly (centralized); ``coordinate_distributed`` reaches
    the same outcome through messages on a broker, the way separate controllers would.
    """

    @abstractmethod
    def coordinate_distributed(
        self,
        broker: Any,
        subordinate_states: Mapping[str, Any],
        env_id: str = "default",
        coordinator_id: str = "environment",
        context: Mapping[str, Any] | None = None,
    ) -> Coordination:
        """Run the protocol as message exchanges on ``broker``; same result as ``coordinate``."""
