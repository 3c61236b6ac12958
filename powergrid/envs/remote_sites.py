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
from collections.abc import Mapping
from typing import Any

from heron.agents.proxy import ENVIRONMENT_ID
from heron.messaging.base import Message, MessageType
from heron.messaging.channels import ChannelManager
from powergrid.envs.exchange import Exchange

__all__ = ["RemoteExchange", "control_channel"]


def control_channel(env_id: str, agent_id: str) -> str:
    """Where the env tells a site process to reset, step or stop."""
    return ChannelManager.custom_channel("site_control", env_id, agent_id)


class RemoteExchange(Exchange):
    """The env's side of the exchange with sites in other processes (see the module doc).
    ``device_sites`` maps each device that reports to its site; ``timeout`` bounds each wait."""

    def __init__(self, *args: Any, device_sites: Mapping[str, str], timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device_sites, self.timeout = dict(device_sites), float(timeout)
        self._controls = {a: control_channel(self.env_id, a) for a in self.agent_ids}
        # what the env mirrors of each device's update into its own fleets: (device, key, fleet array, row)
        self._mirrored = [(name, key, getattr(self.core.fleets[kind], attribute), row)
                          for kind in self.core.layout.acting for row, name in enumerate(self.core.layout.ids[kind])
                          for key, attribute, _ in self.core.fleets[kind].OBSERVED]

    def control(self, op: str, timestamp: float = 0.0, **payload: Any) -> None:
        """Publish control message ``op`` to every site."""
        for agent_id, channel in self._controls.items():
            self.broker.publish(channel, Message(self.env_id, ENVIRONMENT_ID, agent_id, timestamp, MessageType.CUSTOM,
                                                 {"op": op, **payload}))

    def _sites_act(self, timestamp: float) -> None:
        availability = {kind: values.tolist() for kind, values in self.core.availability().items()}
        self.control("step", timestamp, availability=availability)

    def _device_updates(self) -> dict[str, Mapping[str, float]]:
        updates: dict[str, Mapping[str, float]] = {}
        deadline = time.monotonic() + self.timeout
        while len(updates) < len(self.device_sites):
            left = deadline - time.monotonic()
            messages = self.broker.receive(self._state_updates, ENVIRONMENT_ID, self.env_id, max(left, 0.0))
            updates.update((m.sender_id, m.payload) for m in messages)
            if not messages and left <= 0:
                silent = sorted({site for device, site in self.device_sites.items() if device not in updates})
                raise TimeoutError(f"site(s) {silent} sent no state update within {self.timeout:g} s "
                                   f"(config 'site_timeout'); is each running with --env-id {self.env_id}?")
        for device, key, values, row in self._mirrored:  # the env's copy of the device states, for state() and metrics
            values[row] = updates[device][key]
        return updates

    def _report_of(self, agent_id: str, site: Any, channel: str, timestamp: float) -> list[Message]:
        reports = self.broker.receive(channel, ENVIRONMENT_ID, self.env_id, self.timeout)
        if not reports:
            raise TimeoutError(f"site {agent_id!r} did not report within {self.timeout:g} s (config 'site_timeout')")
        return reports
