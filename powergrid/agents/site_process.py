"""A site served over a broker: the loop behind ``GridAgent.run`` and ``python -m powergrid site``
(:mod:`powergrid.deploy`, which builds the controller from the env's config).

A controller with its devices serves the env over the broker: on
``reset`` its devices return to their initial state; on ``step`` they take the hour's
availability the env measured, the controller reads its command and sets them (they publish
their state updates), and when the env's power-flow results arrive it reports its
observation, cost and safety (:class:`~powergrid.agents.site.Site`); ``stop`` ends it. It
holds no reference to the env: everything arrives as messages.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from heron.agents.proxy import ENVIRONMENT_ID
from heron.messaging.base import MessageBroker
from heron.messaging.channels import ChannelManager
from powergrid.agents.site import Site, control_channel

if TYPE_CHECKING:
    from powergrid.agents.grid_agent import GridAgent

__all__ = ["Served", "serve", "restart_devices", "follow_weather"]


def _arrived(broker: MessageBroker, channel: str, agent_id: str, env_id: str, timestamp: float, timeout: float) -> bool:
    """Wait until a message of step ``timestamp`` (or later) for ``agent_id`` is on ``channel``,
    leaving it there: a transport may show a message a little after one published later on
    another channel (Kafka), and a site that restarts finds earlier steps' messages first."""
    deadline = time.monotonic() + timeout
    while not any(m.timestamp >= timestamp for m in broker.consume(channel, agent_id, env_id, clear=False)):
        if time.monotonic() > deadline:
            return False
        time.sleep(1e-3)
    return True


class Served(NamedTuple):
    """What a site did until the env said stop."""

    steps: int  # steps it acted in
    skipped: int  # steps it found already past when it read them (it was down, or late), and did not act in


def restart_devices(agent: GridAgent) -> None:
    """The controller and its devices back to their initial state: a device's numbers live in
    its fleet, which its own reset restores (a fleet this site shares with others' devices, in a
    model of the whole env, is restarted whole: those rows are not served here)."""
    agent.reset()
    for fleet in {id(d.fleet): d.fleet for d in agent.devices.values() if getattr(d, "fleet", None) is not None}.values():
        fleet.reset()


def follow_weather(agent: GridAgent, availability: Mapping[str, float]) -> None:
    """Each device that follows a profile at the hour's availability the env measured for it."""
    rows: dict[int, tuple[Any, np.ndarray]] = {}
    for device_id, value in availability.items():
        device = agent.devices.get(device_id)
        if device is None or getattr(device, "fleet", None) is None:
            raise ValueError(f"site {agent.agent_id!r}: the env sent the availability of {device_id!r}, which is not one of its "
                             f"fleet devices {sorted(agent.devices)}: does the site's setup match the env's?")
        fleet, values = rows.setdefault(id(device.fleet), (device.fleet, np.ones(len(device.fleet.p))))
        values[device.index] = value
    for fleet, values in rows.values():
        fleet.follow(values)


def serve(agent: GridAgent, broker: MessageBroker, env_id: str, idle_timeout: float = 600.0, wait: float | None = None) -> Served:
    """Serve controller ``agent`` (with its devices) as a site of env ``env_id`` on ``broker``
    until the env says stop (or nothing arrives for ``idle_timeout`` seconds: ``TimeoutError``).
    ``GridAgent.run`` and ``python -m powergrid site`` come here.

    In a step it waits up to ``wait`` seconds (default: the env's ``site_timeout``, which the
    env sends with each reset) for its command, and twice that for its results (the env may
    first wait ``site_timeout`` for another site); without them it acts on (or reports from)
    the last it had, and says so (``stale``). When it reads
    several step messages at once (it was down, or fell behind), the earlier steps are past:
    it acts in the newest only, and counts the others as skipped. It reads from its committed
    position on the broker, so after a crash it gets what it had not finished, and not again
    what it had.

    It claims its identity in the env on the broker first (on Redis, a lease on the server): a
    second process serving the same site of the same env is refused with ``ValueError``
    naming both, instead of splitting the site's messages with the first."""
    agent_id = agent.agent_id
    site = Site(agent, broker, env_id)
    broker.claim_environment(env_id, site, site=agent_id)
    try:
        return _served(agent, site, broker, env_id, idle_timeout, wait)
    finally:
        broker.release_environment(env_id, site, site=agent_id)


def _served(agent: GridAgent, site: Site, broker: MessageBroker, env_id: str, idle_timeout: float, wait: float | None) -> Served:
    agent_id = agent.agent_id
    control, results = control_channel(env_id, agent_id), site.proxy.result_channel
    commands = ChannelManager.action_channel(ENVIRONMENT_ID, agent_id, env_id)
    steps = skipped = 0
    patience = 10.0 if wait is None else wait  # until the env's first reset says how long it waits
    while True:
        messages = broker.receive(control, agent_id, env_id, idle_timeout)
        if not messages:
            raise TimeoutError(f"site {agent_id!r}: no message from env {env_id!r} for {idle_timeout:g} s")
        newest = max((i for i, m in enumerate(messages) if m.payload.get("op") == "step"), default=-1)
        for i, message in enumerate(messages):
            op, t = message.payload.get("op"), message.timestamp
            if op == "stop":
                return Served(steps, skipped)
            if op == "reset":
                restart_devices(agent)
                site.sell_price_ratio, site.dt_h = float(message.payload["sell_price_ratio"]), float(message.payload["dt_h"])
                patience = float(message.payload["site_timeout"]) if wait is None else wait
            elif op == "step" and i < newest:
                skipped += 1
            elif op == "step":
                follow_weather(agent, message.payload["availability"])
                _arrived(broker, commands, agent_id, env_id, t, patience)  # sent before the step message; if not, hold the last
                site.act(t)
                _arrived(broker, results, agent_id, env_id, t, 2 * patience)  # the env may first wait that long for another site
                site.report(t)  # reads the results
                steps += 1
            else:
                raise ValueError(f"site {agent_id!r}: unknown control message {message.payload!r}")
