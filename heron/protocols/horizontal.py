"""Horizontal protocols: peers trade energy or agree on a value, mediated by the environment."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from heron.messaging.base import Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager
from heron.protocols.base import (ActionProtocol, CommunicationProtocol, Coordination, HorizontalProtocol, NoActionCoordination,
                                  NoCommunication, read_state_value)

__all__ = ["P2PTradingProtocol", "PeerToPeerTradingProtocol", "ConsensusProtocol", "NoHorizontalProtocol", "Order", "Trade",
           "clear_market", "TradingCommunicationProtocol", "TradingActionProtocol", "ConsensusCommunicationProtocol",
           "ConsensusActionProtocol"]

_EPS = 1e-12


@dataclass(frozen=True)
class Order:
    """A bid (wants to buy) or an ask (wants to sell) of ``quantity`` MW at a limit ``price``."""

    agent_id: str
    side: str  # 'bid' or 'ask'
    quantity: float
    price: float


@dataclass(frozen=True)
class Trade:
    """``quantity`` MW from ``seller`` to ``buyer`` at ``price``; the buyer also pays ``fee``."""

    buyer: str
    seller: str
    quantity: float
    price: float
    fee: float


def clear_market(orders: list[Order], trading_fee: float) -> list[Trade]:
    """Match bids (highest first) with asks (lowest first); ties keep submission order.

    The fee is a fraction of the trade value paid by the buyer on top of the price. A pair
    trades only when the bid covers the ask plus the fee, at the midpoint of the ask and the
    highest price the buyer can pay before the fee: ``p = (ask + bid / (1 + fee)) / 2``. So no
    buyer pays more than its bid (fee included) and no seller receives less than its ask.
    """
    bids = sorted((o for o in orders if o.side == "bid"), key=lambda o: -o.price)
    asks = sorted((o for o in orders if o.side == "ask"), key=lambda o: o.price)
    trades: list[Trade] = []
    i = j = 0
    bid_left = bids[0].quantity if bids else 0.0
    ask_left = asks[0].quantity if asks else 0.0
    markup = 1.0 + trading_fee
    while i < len(bids) and j < len(asks):
        bid, ask = bids[i], asks[j]
        if bid.price < ask.price * markup:
            break
        quantity = min(bid_left, ask_left)
        if quantity > _EPS:
            price = 0.5 * (ask.price + bid.price / markup)
            trades.append(Trade(bid.agent_id, ask.agent_id, quantity, price, trading_fee * price * quantity))
        bid_left -= quantity
        ask_left -= quantity
        if bid_left <= _EPS:
            i += 1
            bid_left = bids[i].quantity if i < len(bids) else 0.0
        if ask_left <= _EPS:
            j += 1
            ask_left = asks[j].quantity if j < len(asks) else 0.0
    return trades


class P2PTradingProtocol(HorizontalProtocol):
    """Peer-to-peer energy trading among agents with surplus and deficit.

    Each peer's state gives ``net_demand`` (MW; positive = wants to buy) and ``marginal_cost``
    (its limit price). Centralized use clears the market in one call; distributed use sends a
    bid/ask message per peer to the market, which clears and replies to each peer. Each peer's
    action is ``{'adjustment': MW}``: bought (positive) or sold (negative).
    """

    def __init__(self, trading_fee: float = 0.01) -> None:
        if not (np.isfinite(trading_fee) and 0.0 <= trading_fee < 1.0):
            raise ValueError(f"trading_fee must be in [0, 1), got {trading_fee!r}")
        self.trading_fee = float(trading_fee)
        self.last_trades: list[Trade] = []

    @staticmethod
    def order_of(agent_id: str, state: Any) -> Order | None:
        """The order a peer places given its state, or None when it is balanced."""
        demand = read_state_value(agent_id, state, "net_demand")
        cost = read_state_value(agent_id, state, "marginal_cost")
        if demand > _EPS:
            return Order(agent_id, "bid", demand, cost)
        if demand < -_EPS:
            return Order(agent_id, "ask", -demand, cost)
        return None

    def _settle(self, peer_ids: list[str], orders: list[Order]) -> Coordination:
        trades = clear_market(orders, self.trading_fee)
        self.last_trades = trades
        results = {pid: {"adjustment": 0.0, "payment": 0.0, "fee": 0.0, "trades": []} for pid in peer_ids}
        for t in trades:
            buyer, seller = results[t.buyer], results[t.seller]
            buyer["adjustment"] += t.quantity
            buyer["payment"] += t.price * t.quantity + t.fee
            buyer["fee"] += t.fee
            seller["adjustment"] -= t.quantity
            seller["payment"] -= t.price * t.quantity
            trade = {"buyer": t.buyer, "seller": t.seller, "quantity": t.quantity, "price": t.price, "fee": t.fee}
            buyer["trades"].append(trade)
            seller["trades"].append(trade)
        actions = {pid: {"adjustment": r["adjustment"]} for pid, r in results.items()}
        return results, actions

    def coordinate(self, coordinator_state, subordinate_states, coordinator_action=None, context=None) -> Coordination:
        orders = [o for pid, s in subordinate_states.items() if (o := self.order_of(pid, s)) is not None]
        return self._settle(list(subordinate_states), orders)

    def coordinate_distributed(
        self,
        broker: MessageBroker,
        subordinate_states: Mapping[str, Any],
        env_id: str = "default",
        coordinator_id: str = "environment",
        context: Mapping[str, Any] | None = None,
    ) -> Coordination:
        market = ChannelManager.custom_channel("p2p", env_id, coordinator_id)
        timestamp = float((context or {}).get("timestamp", 0.0))
        for pid, state in subordinate_states.items():  # each peer submits its order
            order = self.order_of(pid, state)
            payload = {"side": "none", "quantity": 0.0, "price": 0.0} if order is None else {
                "side": order.side, "quantity": order.quantity, "price": order.price}
            broker.publish(market, Message(env_id, pid, coordinator_id, timestamp, MessageType.INFO, payload))
        orders, peers = [], []
        for msg in broker.consume(market, coordinator_id, env_id):  # the market clears what arrived
            peers.append(msg.sender_id)
            p = msg.payload
            if p.get("side") not in ("bid", "ask", "none"):
                raise ValueError(f"malformed P2P order from {msg.sender_id!r}: {p!r}; side must be 'bid', 'ask' or 'none'")
            if p["side"] != "none":
                orders.append(Order(msg.sender_id, p["side"], float(p["quantity"]), float(p["price"])))
        results, _ = self._settle(peers, orders)
        for pid, result in results.items():
            channel = ChannelManager.custom_channel("p2p", env_id, pid)
            broker.publish(channel, Message(env_id, coordinator_id, pid, timestamp, MessageType.RESULT, result))
        messages, actions = {}, {}
        for pid in subordinate_states:  # each peer reads its settlement
            (reply,) = broker.consume(ChannelManager.custom_channel("p2p", env_id, pid), pid, env_id)
            messages[pid] = reply.payload
            actions[pid] = {"adjustment": reply.payload["adjustment"]}
        return messages, actions


    def _parts(self) -> tuple[CommunicationProtocol, ActionProtocol]:
        return TradingCommunicationProtocol(protocol=self), TradingActionProtocol()


PeerToPeerTradingProtocol = P2PTradingProtocol


class TradingCommunicationProtocol(CommunicationProtocol):
    """The market's trade confirmations, the earlier way: ``{'type': 'trade_confirmations',
    'trades': [{'counterparty', 'quantity' (bought > 0, sold < 0), 'price'}]}`` for each peer
    that traded (peers that did not trade get no message). Cleared as :class:`P2PTradingProtocol` clears."""

    def __init__(self, trading_fee: float = 0.01, *, protocol: P2PTradingProtocol | None = None) -> None:
        super().__init__()
        self.protocol = protocol or P2PTradingProtocol(trading_fee)

    @property
    def trading_fee(self) -> float:
        return self.protocol.trading_fee

    @trading_fee.setter
    def trading_fee(self, fee: float) -> None:
        self.protocol.trading_fee = float(fee)

    def compute_coordination_messages(self, sender_state, receiver_states, context=None) -> dict[str, dict[str, Any]]:
        self.protocol.coordinate(sender_state, receiver_states)
        messages: dict[str, dict[str, Any]] = {}
        for t in self.protocol.last_trades:
            for me, other, quantity in ((t.buyer, t.seller, t.quantity), (t.seller, t.buyer, -t.quantity)):
                entry = messages.setdefault(me, {"type": "trade_confirmations", "trades": []})
                entry["trades"].append({"counterparty": other, "quantity": quantity, "price": t.price})
        return messages


class TradingActionProtocol(ActionProtocol):
    """Each peer that traded adjusts by its net trade: ``{'adjustment': MW}``; the others by nothing (None)."""

    def compute_action_coordination(self, coordinator_action, subordinate_states, coordination_messages=None,
                                    context=None) -> dict[str, Any]:
        messages = coordination_messages or {}
        return {sid: {"adjustment": sum(t["quantity"] for t in messages[sid]["trades"])} if "trades" in messages.get(sid, {})
                else None for sid in subordinate_states}


class ConsensusProtocol(HorizontalProtocol):
    """Average consensus on each peer's ``control_value``.

    ``topology`` maps each peer to its neighbours (undirected; default: all peers connected).
    With Metropolis weights the iteration preserves the average, so its fixed point is the
    mean of each connected group: centralized use computes that directly; distributed use runs
    message rounds (each peer sends its value to its neighbours, then updates) until the values
    agree within ``tolerance`` or ``max_iterations`` rounds have run.
    """

    def __init__(self, max_iterations: int = 10, tolerance: float = 0.01, topology: Mapping[str, list[str]] | None = None) -> None:
        if int(max_iterations) != max_iterations or max_iterations < 1:
            raise ValueError(f"max_iterations must be a positive integer, got {max_iterations!r}")
        if not (np.isfinite(tolerance) and tolerance > 0):
            raise ValueError(f"tolerance must be positive, got {tolerance!r}")
        self.max_iterations = int(max_iterations)
        self.tolerance = float(tolerance)
        self.topology = {k: list(v) for k, v in topology.items()} if topology is not None else None
        self.last_iterations = 0

    def neighbours(self, peer_ids: list[str]) -> dict[str, list[str]]:
        if self.topology is None:
            return {p: [q for q in peer_ids if q != p] for p in peer_ids}
        known = set(peer_ids)
        out: dict[str, set[str]] = {p: set() for p in peer_ids}
        for p, qs in self.topology.items():
            for q in qs:
                if p not in known or q not in known:
                    raise ValueError(f"consensus topology names {p!r}-{q!r}, but the peers are {peer_ids}")
                if p != q:
                    out[p].add(q)
                    out[q].add(p)
        return {p: sorted(qs, key=peer_ids.index) for p, qs in out.items()}

    def _values(self, subordinate_states: Mapping[str, Any]) -> dict[str, float]:
        return {pid: read_state_value(pid, s, "control_value") for pid, s in subordinate_states.items()}

    @staticmethod
    def _reply(value: float, converged: bool, iterations: int) -> dict[str, Any]:
        return {"consensus_value": value, "converged": converged, "iterations": iterations}

    @staticmethod
    def groups(nbrs: dict[str, list[str]]) -> list[list[str]]:
        """Connected groups of peers, each in peer order."""
        seen: set[str] = set()
        out = []
        for start in nbrs:
            if start in seen:
                continue
            group, todo = {start}, deque([start])
            while todo:
                for q in nbrs[todo.popleft()]:
                    if q not in group:
                        group.add(q)
                        todo.append(q)
            seen |= group
            out.append([p for p in nbrs if p in group])
        return out

    def coordinate(self, coordinator_state, subordinate_states, coordinator_action=None, context=None) -> Coordination:
        values = self._values(subordinate_states)
        result: dict[str, float] = {}
        for group in self.groups(self.neighbours(list(values))):  # the fixed point: each group's mean
            mean = float(np.mean([values[p] for p in group]))
            result.update({p: mean for p in group})
        self.last_iterations = 1
        messages = {pid: self._reply(result[pid], True, 1) for pid in values}
        return messages, {pid: {"consensus_value": result[pid]} for pid in values}

    def coordinate_distributed(
        self,
        broker: MessageBroker,
        subordinate_states: Mapping[str, Any],
        env_id: str = "default",
        coordinator_id: str = "environment",
        context: Mapping[str, Any] | None = None,
    ) -> Coordination:
        values = self._values(subordinate_states)
        peers = list(values)
        nbrs = self.neighbours(peers)
        degree = {p: len(qs) for p, qs in nbrs.items()}
        channel = {p: ChannelManager.custom_channel("consensus", env_id, p) for p in peers}
        groups = self.groups(nbrs)
        converged, rounds = self._spread(values, groups) <= self.tolerance, 0
        while not converged and rounds < self.max_iterations:
            rounds += 1
            for p in peers:  # every peer tells its neighbours its current value
                for q in nbrs[p]:
                    broker.publish(channel[q], Message(env_id, p, q, float(rounds), MessageType.INFO, {"value": values[p]}))
            updated = {}
            for p in peers:  # then updates from what it received (Metropolis weights)
                x = values[p]
                for msg in broker.consume(channel[p], p, env_id):
                    w = 1.0 / (1.0 + max(degree[p], degree[msg.sender_id]))
                    x += w * (float(msg.payload["value"]) - values[p])
                updated[p] = x
            values = updated
            converged = self._spread(values, groups) <= self.tolerance
        self.last_iterations = rounds
        messages = {p: self._reply(v, converged, rounds) for p, v in values.items()}
        return messages, {p: {"consensus_value": v} for p, v in values.items()}

    def _parts(self) -> tuple[CommunicationProtocol, ActionProtocol]:
        return ConsensusCommunicationProtocol(protocol=self), ConsensusActionProtocol()

    @staticmethod
    def _spread(values: dict[str, float], groups: list[list[str]]) -> float:
        """Largest disagreement within a connected group. The iteration keeps each group's mean
        inside its values, so a spread within ``tolerance`` puts every value within it of the mean."""
        return max((max(values[p] for p in g) - min(values[p] for p in g) for g in groups), default=0.0)


class ConsensusCommunicationProtocol(CommunicationProtocol):
    """Each peer's consensus reply ``{'consensus_value', 'converged', 'iterations'}``; a topology
    may come as ``context['topology'] = {'adjacency': {peer: [neighbours]}}``."""

    def __init__(self, max_iterations: int = 10, tolerance: float = 0.01, *, protocol: ConsensusProtocol | None = None) -> None:
        super().__init__()
        self.protocol = protocol or ConsensusProtocol(max_iterations, tolerance)

    max_iterations = property(lambda self: self.protocol.max_iterations)
    tolerance = property(lambda self: self.protocol.tolerance)

    def compute_coordination_messages(self, sender_state, receiver_states, context=None) -> dict[str, dict[str, Any]]:
        topology = (context or {}).get("topology")
        if topology is None:
            return self.protocol.coordinate(sender_state, receiver_states)[0]
        adjacency = topology.get("adjacency", topology) if isinstance(topology, Mapping) else None
        if not isinstance(adjacency, Mapping):
            raise ValueError(f"context['topology'] must be {{'adjacency': {{peer: [neighbours]}}}}, got {topology!r}")
        p = self.protocol
        return ConsensusProtocol(p.max_iterations, p.tolerance, adjacency).coordinate(sender_state, receiver_states)[0]


class ConsensusActionProtocol(ActionProtocol):
    """Peers use the agreed value in their own decisions: no action is set."""

    def compute_action_coordination(self, coordinator_action, subordinate_states, coordination_messages=None,
                                    context=None) -> dict[str, Any]:
        return {sid: None for sid in subordinate_states}


class NoHorizontalProtocol(HorizontalProtocol):
    """No peer coordination: each peer gets an empty message and no action, in either mode."""

    def _parts(self) -> tuple[CommunicationProtocol, ActionProtocol]:
        return NoCommunication(), NoActionCoordination()

    def coordinate_distributed(self, broker, subordinate_states, env_id="default", coordinator_id="environment",
                               context=None) -> Coordination:
        return self.coordinate(None, subordinate_states, None, context)
