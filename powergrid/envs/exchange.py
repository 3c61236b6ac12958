"""Distributed mode: the whole message flow of one step, in one place.

The env and the sites (:class:`~powergrid.agents.site.Site`: a microgrid controller with its
devices) share nothing but the broker. One step:

1. the env publishes each microgrid's action on ``action_channel('environment', MG)``;
2. each site reads it and sets its devices (each publishes its state update on the env's
   state-update channel);
3. the env reads the state updates, writes them into the power flow, solves, and publishes
   each microgrid's results on its result channel (``power_flow_result_channel``);
4. each site reads its results, computes its observation, cost and safety, and reports them
   with its action on ``info_channel(MG, 'environment')``;
5. with a P2P protocol, the sites bid and ask by message and the env clears the market.

Every message published in a step is consumed in that step; one stamped with an earlier
step (late) is dropped. With ``silent='hold'`` (config ``silent_site``) a device whose update
or a site whose report does not come is held at what the env last heard from it (at the
start of an episode: its initial state and the reset observation), and its site is named in
``stale`` for the step; a stale site (held, or reporting from an earlier command or results)
is scored by the env from the physics it has (its power flow, the devices as they are or as
last heard), never by a stale report, so silence cannot pay; with ``'raise'`` (the default) the step fails naming it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from heron.agents.proxy import ENVIRONMENT_ID
from heron.messaging.base import Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager
from heron.protocols.horizontal import P2PTradingProtocol
from powergrid.agents.registry import by_kind
from powergrid.agents.site import Site
from powergrid.core.step import GridCore

__all__ = ["Exchange", "market_cost", "settle"]


def settle(core: GridCore, agent_ids: Sequence[str], results: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """Cost change of each agent whose energy was traded with peers instead of the grid."""
    delta = np.zeros(len(agent_ids))
    for k, agent_id in enumerate(agent_ids):
        r = results[agent_id]
        if r["adjustment"]:
            delta[k] = r["payment"] * core.dt_h - float(core.grid_cost(float(r["adjustment"]), float(core.price)))
    return delta


def market_cost(core: GridCore, agent_ids: Sequence[str], protocol: Any) -> np.ndarray:
    """Centralized mode's P2P market: ``protocol`` clears it on each agent's import and its
    generators' marginal cost (the price without generators); the cost change it settles."""
    mc, p_import = core.marginal_costs(), core.results["p_import"]
    states = {a: {"net_demand": float(p_import[k]), "marginal_cost": float(mc[k])} for k, a in enumerate(agent_ids)}
    return settle(core, agent_ids, protocol.coordinate(None, states)[0])


def _name_missing(updates: Mapping[str, Mapping[str, float]], wanted: Sequence[tuple[str, str]]) -> None:
    """Raise ``ValueError`` naming the first (device, key) of ``wanted`` the updates lack."""
    for device, key in wanted:
        if device not in updates:
            raise ValueError(f"device {device!r} published no state update this step")
        if key not in updates[device]:
            raise ValueError(f"device {device!r}: its state update has no {key!r} (it has {sorted(updates[device])})")


class Exchange:
    """The env's side of the exchange with ``sites`` (agent id -> Site) over ``broker``."""

    def __init__(self, core: GridCore, sites: Mapping[str, Site], broker: MessageBroker, env_id: str,
                 protocol: P2PTradingProtocol | None = None, silent: str = "raise") -> None:
        if silent not in ("raise", "hold"):
            raise ValueError(f"silent_site must be 'raise' or 'hold', got {silent!r}")
        self.core, self.sites, self.broker, self.env_id, self.protocol = core, dict(sites), broker, env_id, protocol
        self.agent_ids, self.silent = list(self.sites), silent
        self.device_sites = {d: a for a, site in self.sites.items() if site is not None for d in site.agent.devices}
        self.stale: set[str] = set()  # the sites held at what the env last heard, this step
        self.late = 0  # messages dropped because they belonged to an earlier step
        self.duplicates = 0  # reports received more than once in a step
        self._heard: dict[str, Mapping[str, float]] = {}  # device -> its last state update
        self._last_reports: dict[str, Mapping[str, Any]] = {}  # site -> its last report
        self.last_results: list[dict[str, Any]] = []  # each site's results of the last power flow (agent order)
        lay = core.layout
        self._commands = [ChannelManager.action_channel(ENVIRONMENT_ID, a, env_id) for a in self.agent_ids]
        self._reports = [ChannelManager.info_channel(a, ENVIRONMENT_ID, env_id) for a in self.agent_ids]
        self._results = [ChannelManager.power_flow_result_channel(env_id, a) for a in self.agent_ids]
        self._state_updates = ChannelManager.state_update_channel(env_id)
        self._discrete_keys = [(d.name, by_kind(d.kind).reports[0]) for d, _ in lay.discrete]
        self._slices = list(zip(lay.action_offsets[:-1], lay.action_offsets[1:]))
        # per microgrid, the devices the env measures: (name, row, [(field, the fleet's array)])
        self._measured = [[(name, row, [(field, getattr(core.fleets[kind], attribute)) for field, attribute, _ in
                                        core.fleets[kind].OBSERVED]) for name, kind, row in measured] for measured in lay.measured_of]
        # what each commanded fleet's devices report that enters the power flow (its REPORTS):
        # (device names, state-update key, backend array, elements, positions in the flat action)
        self._reported = []
        for kind in lay.acting:
            fleet = core.fleets[kind]
            for key, attribute, array in fleet.REPORTS:
                column = fleet.ACTION.index(attribute) if attribute in fleet.ACTION else None
                positions = lay.action_pos[kind][:, column] if column is not None else None
                self._reported.append((lay.ids[kind], key, array, fleet.element, positions))

    def step(self, flat: np.ndarray, timestamp: float) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, bool, np.ndarray]:
        """One distributed step for the (validated, clipped) flat action: each agent's
        observation, cost, safety, whether the power flow converged, and the delivered action."""
        broker, env, t = self.broker, self.env_id, timestamp
        self.core.advance_profiles()  # the hour's loads, weather and price (nature's part)
        for agent_id, channel, (lo, hi) in zip(self.agent_ids, self._commands, self._slices):  # 1. commands
            broker.publish(channel, Message(env, ENVIRONMENT_ID, agent_id, t, MessageType.ACTION, {"setpoint": flat[lo:hi]}))
        self.stale = set()
        self._sites_act(t)  # 2. sites set their devices
        delivered = self.apply_state_updates(self._held_updates(self._device_updates(t)), flat)  # 3. the power flow, and each site's results
        converged = bool(self.core.solve())
        self.last_results = self.result_payloads(converged)
        for agent_id, channel, payload in zip(self.agent_ids, self._results, self.last_results):
            broker.publish(channel, Message(env, ENVIRONMENT_ID, agent_id, t, MessageType.RESULT, payload))
        ordered = []
        for agent_id, site, channel in zip(self.agent_ids, self.sites.values(), self._reports):  # 4. sites report
            reports = self._report_of(agent_id, site, channel, t)
            if not reports and self.silent == "hold":
                self.stale.add(agent_id)
                ordered.append(self._last_reports[agent_id])
                continue
            if not reports:
                raise ValueError(f"site {agent_id!r} sent no report this step")
            self.duplicates += len(reports) - 1  # copies of one report (a transport may deliver one twice)
            report = reports[-1].payload
            ordered.append(report)
            self._last_reports[agent_id] = report
            if report.get("stale"):  # the site held its last command or results
                self.stale.add(agent_id)
        cost = np.array([e["cost"] for e in ordered])
        safety = np.array([e["safety"] for e in ordered])
        if self.protocol is not None:  # 5. peers bid and ask by message; the env clears the market
            states = {a: {"net_demand": e["p_import"], "marginal_cost": e["marginal_cost"]} for a, e in zip(self.agent_ids, ordered)}
            results, _ = self.protocol.coordinate_distributed(broker, states, env_id=env, coordinator_id=ENVIRONMENT_ID,
                                                              context={"timestamp": t})
            cost = cost + settle(self.core, self.agent_ids, results)
        return [e["obs"] for e in ordered], cost, safety, converged, delivered

    def start_episode(self, observations: Mapping[str, np.ndarray]) -> None:
        """What the env has heard at the start of an episode: each device's initial state, each
        site's reset observation with no cost (what a silent site is held at before it reports)."""
        core = self.core
        self._heard = {name: {key: getattr(core.fleets[kind], attribute).item(row) for key, attribute, _ in core.fleets[kind].OBSERVED}
                       for kind in core.layout.acting for row, name in enumerate(core.layout.ids[kind])}
        for (name, key), value in zip(self._discrete_keys, core.discrete.tolist()):
            self._heard[name] = {key: value}
        self._last_reports = {a: {"action": None, "obs": observations[a], "cost": 0.0, "safety": 0.0, "p_import": r["p_import"],
                                  "marginal_cost": r["price"]} for a, r in zip(self.agent_ids, self.last_results)}

    def _current(self, messages: Sequence[Message], timestamp: float) -> list[Message]:
        """The messages of this step (those of an earlier step came late: counted in ``late``)."""
        current = [m for m in messages if m.timestamp == timestamp]
        self.late += len(messages) - len(current)
        return current

    def _held_updates(self, messages: Sequence[Message]) -> dict[str, Mapping[str, float]]:
        """Each device's update of this step; with ``silent='hold'``, the last heard of a silent one."""
        updates = {m.sender_id: m.payload for m in messages}
        if self.silent == "hold":
            self._heard.update(updates)
            for device, site in self.device_sites.items():
                if device not in updates and device in self._heard:
                    updates[device] = self._heard[device]
                    self.stale.add(site)
        return updates

    # The sites' part, in this process (a remote exchange overrides these three); the
    # messages they return are this step's.
    def _sites_act(self, timestamp: float) -> None:
        for site in self.sites.values():
            site.act(timestamp)

    def _device_updates(self, timestamp: float) -> list[Message]:
        return self._current(self.broker.consume(self._state_updates, ENVIRONMENT_ID, self.env_id), timestamp)

    def _report_of(self, agent_id: str, site: Site, channel: str, timestamp: float) -> list[Message]:
        site.report(timestamp)
        return self._current(self.broker.consume(channel, ENVIRONMENT_ID, self.env_id), timestamp)

    def apply_state_updates(self, updates: Mapping[str, Mapping[str, float]], commanded: np.ndarray) -> np.ndarray:
        """What the devices reported, into the power flow's injections; returns the actions as
        delivered (``commanded`` with the reported values)."""
        core = self.core
        b, delivered = core.backend, commanded.copy()
        try:
            for names, key, array, element, positions in self._reported:
                values = [updates[name][key] for name in names]
                getattr(b, array)[element] = values
                if positions is not None:
                    delivered[positions] = values
            discrete = [updates[name][key] for name, key in self._discrete_keys]
        except KeyError:
            _name_missing(updates, [(name, key) for names, key, *_ in self._reported for name in names] + self._discrete_keys)
            raise
        if discrete:
            core.discrete[:] = discrete
            core.push_discrete(core.discrete)
        return delivered

    def result_payloads(self, converged: bool) -> list[dict[str, Any]]:
        """Each microgrid's results, in agent order: its buses' voltages, its lines' and
        connection transformer's loading, its import and load, the price and hour, and its
        devices without an action (renewables: their output follows the weather, so the env
        measures it)."""
        core = self.core
        keep, lay = core.results, core.layout
        angle = core.hour_angle()  # one env: a Python number
        sin, cos, price = math.sin(angle), math.cos(angle), float(core.price)
        load_p = lay.owners["load"].sum(core.backend.load_p).tolist()
        p_import, trafo = keep["p_import"].tolist(), keep["trafo"].tolist()
        return [{"converged": converged, "vm_pu": keep["vm"][mg.buses].copy(), "line_loading": keep["line"][mg.lines].copy(),
                 "trafo_loading": trafo[mg.trafo], "p_import": p_import[k], "load_p": load_p[k], "price": price,
                 "hour_sin": sin, "hour_cos": cos,
                 "device_states": {name: {field: values.item(row) for field, values in fields} for name, row, fields in measured}}
                for k, (mg, measured) in enumerate(zip(core.model.microgrids, self._measured))]
