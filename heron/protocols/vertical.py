"""Vertical protocols: a coordinator directs its subordinates by setpoints or by a price."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from heron.core.action import Action
from heron.protocols.base import ActionProtocol, CommunicationProtocol, Coordination, VerticalProtocol

__all__ = ["SetpointProtocol", "PriceSignalProtocol", "SetpointCommunicationProtocol", "CentralizedActionProtocol",
           "PriceCommunicationProtocol", "DecentralizedActionProtocol"]

Layout = tuple[tuple[str, slice | np.ndarray], ...]


def setpoint_layout(subordinate_actions: Mapping[str, Action]) -> tuple[Layout, int]:
    """Where each subordinate's flat action ``[c..., d...]`` sits in the coordinator's flat action.

    The coordinator's vector is all continuous parts, then all discrete parts; a subordinate with
    only one kind gets a slice (a view, no copy), a mixed one gets an index array.
    """
    total_c = sum(a.dim_c for a in subordinate_actions.values())
    total_d = sum(a.dim_d for a in subordinate_actions.values())
    layout = []
    c0, d0 = 0, total_c
    for sid, a in subordinate_actions.items():
        if a.dim_d == 0:
            idx: slice | np.ndarray = slice(c0, c0 + a.dim_c)
        elif a.dim_c == 0:
            idx = slice(d0, d0 + a.dim_d)
        else:
            idx = np.r_[c0:c0 + a.dim_c, d0:d0 + a.dim_d]
        layout.append((sid, idx))
        c0 += a.dim_c
        d0 += a.dim_d
    return tuple(layout), total_c + total_d


class SetpointProtocol(VerticalProtocol):
    """Each subordinate receives its slice of the coordinator's flat action as its setpoint.

    Slices are computed once per set of subordinates (``bind`` or first use); a call is then one
    view per subordinate. Works on a batch too: ``coordinator_action`` of shape ``(B, dim)`` gives
    ``(B, dim_i)`` shares.
    """

    _layouts: dict[tuple[str, ...], tuple[Layout, int]] | None = None

    def bind(self, subordinate_actions: Mapping[str, Action]) -> None:
        if self._layouts is None:
            self._layouts = {}
        self._layouts[tuple(subordinate_actions)] = setpoint_layout(subordinate_actions)

    def _layout_for(self, subordinate_states: Mapping[str, Any], dim: int) -> tuple[Layout, int]:
        key = tuple(subordinate_states)
        found = self._layouts.get(key) if self._layouts is not None else None
        if found is not None:
            return found
        actions = {sid: s if isinstance(s, Action) else getattr(s, "action", None) for sid, s in subordinate_states.items()}
        if all(isinstance(a, Action) for a in actions.values()):
            self.bind(actions)
            return self._layouts[key]
        # Unknown subordinate shapes: split evenly, which only an exact multiple allows.
        n = len(key)
        if n == 0 or dim % n:
            raise ValueError(
                f"setpoint of length {dim} cannot be split evenly over {n} subordinates {list(key)}; "
                "bind the protocol to the subordinates' action specs first"
            )
        share = dim // n
        return tuple((sid, slice(i * share, (i + 1) * share)) for i, sid in enumerate(key)), dim

    def split(self, subordinate_states: Mapping[str, Any], coordinator_action: Any) -> dict[str, np.ndarray]:
        """Each subordinate's share of ``coordinator_action`` (views, no copies)."""
        if coordinator_action is None:
            raise ValueError("SetpointProtocol.coordinate needs the coordinator's action to split into setpoints")
        if isinstance(coordinator_action, Mapping):  # already one setpoint per subordinate
            unknown = set(coordinator_action) - set(subordinate_states)
            if unknown:
                raise ValueError(f"setpoints for {sorted(unknown)}, who are not among the subordinates {list(subordinate_states)}")
            return {sid: np.asarray(share, dtype=np.float64) for sid, share in coordinator_action.items()}
        action = coordinator_action if isinstance(coordinator_action, np.ndarray) else np.asarray(coordinator_action, dtype=np.float64)
        layout, dim = self._layout_for(subordinate_states, action.shape[-1] if action.ndim else 1)
        if action.ndim == 0 or action.shape[-1] != dim:
            raise ValueError(
                f"coordinator action has shape {action.shape}, expected (..., {dim}) for subordinates {[s for s, _ in layout]}"
            )
        if action.ndim == 1:
            return {sid: action[idx] for sid, idx in layout}
        return {sid: action[..., idx] for sid, idx in layout}

    def coordinate(self, coordinator_state, subordinate_states, coordinator_action=None, context=None) -> Coordination:
        """``context['subordinates']`` (the agents by id), when given, supplies the action specs
        that a plain state does not carry."""
        if context and context.get("subordinates"):
            agents = context["subordinates"]
            subordinate_states = {sid: agents.get(sid, state) for sid, state in subordinate_states.items()}
        actions = self.split(subordinate_states, coordinator_action)
        return {sid: {"setpoint": share} for sid, share in actions.items()}, actions

    def _parts(self) -> tuple[CommunicationProtocol, ActionProtocol]:
        return SetpointCommunicationProtocol(self), CentralizedActionProtocol(self)

    def coordinate_action(self, devices: Mapping[str, Any], obs: Any, action: Any) -> dict[str, Any]:
        """Set each subordinate that has an action to its share (the same split the messages carry)."""
        shares = {sid: share for sid, share in self.split(devices, action).items() if share.shape[-1]}
        for sid, share in shares.items():
            devices[sid].act(None, upstream_action=share)
        return shares


class PriceSignalProtocol(VerticalProtocol):
    """The coordinator announces one price; each subordinate decides for itself given it.

    The price is the coordinator's action (one value in ``price_range``, or ``{'price': p}``) when
    it gives one, else ``context['price']``, else the last price (``initial_price`` at first).
    """

    def __init__(
        self,
        initial_price: float = 50.0,
        price_range: tuple[float, float] = (0.0, 1000.0),
        *,
        price: float | None = None,
    ) -> None:
        if price is not None:  # the older spelling, PriceSignalProtocol(price=50.0)
            initial_price = price
        low, high = float(price_range[0]), float(price_range[1])
        if not low <= high:
            raise ValueError(f"price_range must be (low, high) with low <= high, got {price_range!r}")
        if not np.isfinite(initial_price):
            raise ValueError(f"initial_price must be finite, got {initial_price!r}")
        self.initial_price = float(initial_price)
        self.price = float(initial_price)
        self.price_range = (low, high)

    def coordinator_action_spec(self, subordinate_actions: Mapping[str, Action], owner: str = "coordinator") -> Action:
        return Action(dim_c=1, range=self.price_range, owner=owner)

    def coordinate(self, coordinator_state, subordinate_states, coordinator_action=None, context=None) -> Coordination:
        if isinstance(coordinator_action, Mapping):  # {'price': p}
            coordinator_action = coordinator_action.get("price")
        if coordinator_action is not None and np.size(coordinator_action):
            price = float(np.ravel(coordinator_action)[0])
        elif context and "price" in context:
            price = float(context["price"])
        else:
            price = self.price
        if not np.isfinite(price):
            raise ValueError(f"PriceSignalProtocol: price must be finite, got {price!r}")
        self.price = price
        signal = {"price": price}
        return {sid: dict(signal) for sid in subordinate_states}, {sid: dict(signal) for sid in subordinate_states}

    def reset(self) -> None:
        self.price = self.initial_price

    def _parts(self) -> tuple[CommunicationProtocol, ActionProtocol]:
        return PriceCommunicationProtocol(protocol=self), DecentralizedActionProtocol()


class SetpointCommunicationProtocol(CommunicationProtocol):
    """Setpoint messages ``{'type': 'setpoint_command', 'setpoint': share}``: the coordinator's
    action (``context['coordinator_action']``, a flat vector or one share per receiver) split
    over ``context['subordinates']`` (the agents, whose action specs give the split)."""

    def __init__(self, protocol: SetpointProtocol | None = None) -> None:
        super().__init__()
        self.protocol = protocol or SetpointProtocol()

    def compute_coordination_messages(self, sender_state, receiver_states, context=None) -> dict[str, dict[str, Any]]:
        context = context or {}
        action = context.get("coordinator_action")
        if action is None:
            return {rid: {} for rid in receiver_states}
        agents = context.get("subordinates") or receiver_states
        shares = self.protocol.split({rid: agents.get(rid, receiver_states[rid]) for rid in receiver_states}, action)
        return {rid: {"type": "setpoint_command", "setpoint": share} for rid, share in shares.items()}


class CentralizedActionProtocol(ActionProtocol):
    """Each subordinate is set to its share: from the coordinator's action when it names them,
    else from the setpoint messages."""

    def __init__(self, protocol: SetpointProtocol | None = None) -> None:
        self.protocol = protocol or SetpointProtocol()

    def compute_action_coordination(self, coordinator_action, subordinate_states, coordination_messages=None,
                                    context=None) -> dict[str, Any]:
        if isinstance(coordinator_action, Mapping):
            return {sid: coordinator_action.get(sid) for sid in subordinate_states}
        messages = coordination_messages or {}
        if any("setpoint" in messages.get(sid, {}) for sid in subordinate_states):
            return {sid: messages.get(sid, {}).get("setpoint") for sid in subordinate_states}
        if coordinator_action is None:
            return {sid: None for sid in subordinate_states}
        return dict(self.protocol.split(subordinate_states, coordinator_action))


class PriceCommunicationProtocol(CommunicationProtocol):
    """Broadcast ``{'type': 'price_signal', 'price': p}``: the coordinator's action (a number or
    ``{'price': p}``) when it gives one, else the last price."""

    def __init__(self, initial_price: float = 50.0, *, protocol: PriceSignalProtocol | None = None) -> None:
        super().__init__()
        self.protocol = protocol or PriceSignalProtocol(initial_price)

    @property
    def price(self) -> float:
        return self.protocol.price

    @price.setter
    def price(self, price: float) -> None:
        self.protocol.price = float(price)

    def compute_coordination_messages(self, sender_state, receiver_states, context=None) -> dict[str, dict[str, Any]]:
        action = (context or {}).get("coordinator_action")
        if isinstance(action, Mapping):
            action = action.get("price")
        messages, _ = self.protocol.coordinate(sender_state, receiver_states, action)
        return {rid: {"type": "price_signal", **message} for rid, message in messages.items()}


class DecentralizedActionProtocol(ActionProtocol):
    """Subordinates decide for themselves (given the messages): no action is set."""

    def compute_action_coordination(self, coordinator_action, subordinate_states, coordination_messages=None,
                                    context=None) -> dict[str, Any]:
        return {sid: None for sid in subordinate_states}
