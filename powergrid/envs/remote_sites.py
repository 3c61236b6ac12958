"""Distributed mode with every site in a process of its own, over a real broker.

The message flow of a step is :mod:`powergrid.envs.exchange`'s; what changes is who runs the
sites. Each site process (``python -m powergrid site MG1 --broker URL --env-id ID``, see
:mod:`powergrid.agents.site_process`) waits on its control channel. At each step the env
publishes the commands, then a ``step`` control message with the hour's availability of the
devices that follow the weather; it then waits, each wait bounded by ``site_timeout``
seconds, for every device's state update and every site's report, and names the sites that
did not answer. ``reset`` and ``stop`` travel on the same channel, in order.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from heron.agents.proxy import ENVIRONMENT_ID
from heron.messaging.base import Message, MessageType
from powergrid.agents.site import Site, control_channel
from powergrid.envs.exchange import Exchange

__all__ = ["RemoteExchange", "control_channel", "site_exchange"]


class RemoteExchange(Exchange):
    """The env's side of the exchange with sites in other processes (see the module doc).
    ``site_devices`` lists each site's devices, ``device_sites`` maps each device that reports
    to its site; ``timeout`` bounds each wait; a reset tells the sites ``settings`` (the
    ``sell_price_ratio`` and ``dt_h`` their costs use, and the ``site_timeout`` they wait as
    long as)."""

    def __init__(self, *args: Any, site_devices: Mapping[str, Sequence[str]], device_sites: Mapping[str, str], timeout: float,
                 settings: Mapping[str, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device_sites, self.timeout, self.settings = dict(device_sites), float(timeout), dict(settings)
        self._controls = {a: control_channel(self.env_id, a) for a in self.agent_ids}
        profiles = {name for kind in self.core.availability() for name in self.core.layout.ids[kind]}
        self._followers = {a: [d for d in devices if d in profiles] for a, devices in site_devices.items()}
        self._rows = {name: (kind, row) for kind in self.core.layout.acting for row, name in enumerate(self.core.layout.ids[kind])}
        # what the env mirrors of each device's update into its own fleets: (device, key, fleet array, row)
        self._mirrored = [(name, key, getattr(self.core.fleets[kind], attribute), row)
                          for kind in self.core.layout.acting for row, name in enumerate(self.core.layout.ids[kind])
                          for key, attribute, _ in self.core.fleets[kind].OBSERVED]

    def control(self, op: str, timestamp: float = 0.0, **payload: Any) -> None:
        """Publish control message ``op`` to every site."""
        for agent_id, channel in self._controls.items():
            self.broker.publish(channel, Message(self.env_id, ENVIRONMENT_ID, agent_id, timestamp, MessageType.CUSTOM,
                                                 {"op": op, **payload}))

    def restart(self, day: int) -> None:
        """Every site's devices back to their initial state for an episode from ``day``."""
        self.control("reset", day=day, **self.settings)

    def _sites_act(self, timestamp: float) -> None:
        """Tell each site to act, with the hour's availability of its devices that follow the weather."""
        availability = {name: value for kind, values in self.core.availability().items()
                        for name, value in zip(self.core.layout.ids[kind], values.tolist())}
        for agent_id, channel in self._controls.items():
            mine = {name: availability[name] for name in self._followers[agent_id]}
            self.broker.publish(channel, Message(self.env_id, ENVIRONMENT_ID, agent_id, timestamp, MessageType.CUSTOM,
                                                 {"op": "step", "availability": mine}))

    def _device_updates(self, timestamp: float) -> list[Message]:
        """This step's state updates, waiting up to the timeout for every device's."""
        current: dict[str, Message] = {}
        deadline = time.monotonic() + self.timeout
        while len(current) < len(self.device_sites):
            left = deadline - time.monotonic()
            messages = self._current(self.broker.receive(self._state_updates, ENVIRONMENT_ID, self.env_id, max(left, 0.0)), timestamp)
            current.update((m.sender_id, m) for m in messages)
            if not messages and left <= 0:
                if self.silent == "hold":
                    break
                silent = sorted({site for device, site in self.device_sites.items() if device not in current})
                raise TimeoutError(f"site(s) {silent} sent no state update within {self.timeout:g} s "
                                   f"(config 'site_timeout'); is each running with --env-id {self.env_id}?")
        return list(current.values())

    def _held_updates(self, messages: Sequence[Message]) -> dict[str, Mapping[str, float]]:
        if self.silent == "hold":
            heard = {m.sender_id for m in messages}
            self._hold_silent_devices([d for d in self.device_sites if d not in heard])
        updates = super()._held_updates(messages)
        for device, key, values, row in self._mirrored:  # the env's copy of the device states, for state() and metrics
            values[row] = updates[device][key]
        return updates

    def _hold_silent_devices(self, silent: Sequence[str]) -> None:
        """A device the env did not hear from goes on delivering its last output, by its
        fleet's physics in the env's copy: within this hour's cap (the sun may have set) and
        the energy it holds (its state of charge moves), so holding it conserves energy."""
        fleets = {}
        for device in silent:
            kind, row = self._rows[device]
            fleet = fleets[kind] = self.core.fleets[kind]
            for attribute in fleet.ACTION:  # its last command: what it last delivered
                getattr(fleet, f"{attribute}_set")[row] = getattr(fleet, attribute)[row]
        for fleet in fleets.values():
            fleet.hold(self.core.dt_h)  # every row; those heard from are overwritten by their updates
        for device in silent:
            kind, row = self._rows[device]
            fleet = self.core.fleets[kind]
            self._heard[device] = {key: getattr(fleet, attribute).item(row) for key, attribute, _ in fleet.OBSERVED}

    def _report_of(self, agent_id: str, site: Any, channel: str, timestamp: float) -> list[Message]:
        """This step's report of ``agent_id``, waiting up to the timeout (none: held, or an error)."""
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            reports = self._current(self.broker.receive(channel, ENVIRONMENT_ID, self.env_id, left), timestamp)
            if reports:
                return reports
        if self.silent == "hold":
            return []
        raise TimeoutError(f"site {agent_id!r} did not report within {self.timeout:g} s (config 'site_timeout')")


def site_exchange(env: Any, broker: Any, protocol: Any = None) -> Exchange:
    """The distributed env's exchange: with a site per microgrid in the env's process, or with
    each site a process of its own (config ``remote_sites``)."""
    cfg, agents = env.config, env.agent_dict
    if not cfg["remote_sites"]:
        sites = {a: Site(agent, broker, env.env_id, cfg["sell_price_ratio"], env.dt_h) for a, agent in agents.items()}
        return Exchange(env.core, sites, broker, env.env_id, protocol, silent=cfg["silent_site"])
    if protocol is not None:
        raise ValueError("config 'remote_sites' does not run a P2PTradingProtocol yet: its market runs in the env's process")
    reporting = {d: a for a, agent in agents.items() for d, dev in agent.devices.items() if dev.action.dim}
    settings = {"sell_price_ratio": cfg["sell_price_ratio"], "dt_h": env.dt_h, "site_timeout": cfg["site_timeout"]}
    return RemoteExchange(env.core, dict.fromkeys(agents), broker, env.env_id, device_sites=reporting,
                          site_devices={a: list(agent.devices) for a, agent in agents.items()},
                          timeout=cfg["site_timeout"], settings=settings, silent=cfg["silent_site"])
