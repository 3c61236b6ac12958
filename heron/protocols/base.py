"""The protocol contract: how a coordinator's decision becomes its subordinates' messages and actions.

``coordinate(coordinator_state, subordinate_states, coordinator_action, context)`` is the single
source of truth and returns ``(messages, actions)``, two dicts keyed by subordinate id: in
centralized mode the ``actions`` are assigned directly, in distributed mode the ``messages`` are
sent over the broker. Both come from the same computation, so the two modes agree.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from heron.core.action import Action

__all__ = ["Protocol", "NoProtocol", "VerticalProtocol", "HorizontalProtocol", "read_state_value", "is_empty_setpoint"]

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
    """A share that sets nothing: a zero-length setpoint (a subordinate without an action), bare
    or as the message ``{'setpoint': ...}``. Neither mode sends or applies one."""
    if type(share) is dict:
        if len(share) != 1 or "setpoint" not in share:
            return False
        share = share["setpoint"]
    return share is not None and (share.size if type(share) is np.ndarray else np.size(share)) == 0


class Protocol(ABC):
    """Base of every coordination protocol."""

    @abstractmethod
    def coordinate(
        self,
        coordinator_state: Any,
        subordinate_states: Mapping[str, Any],
        coordinator_action: Any = None,
        context: Mapping[str, Any] | None = None,
    ) -> Coordination:
        """Return ``(messages, actions)`` keyed by subordinate id."""

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
    """No coordination: subordinates act on their own policies; nothing is sent."""

    def coordinate(self, coordinator_state, subordinate_states, coordinator_action=None, context=None) -> Coordination:
        return {}, {}


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
