"""A site in a process of its own: ``python -m powergrid site MG1 --broker URL --env-id ID``.

The process builds the model of the env's config (the same setup gives the same devices),
takes the controller ``MG1`` with its devices, and serves the env over the broker: on
``reset`` its devices return to their initial state; on ``step`` they take the hour's
availability the env measured, the controller reads its command and sets them (they publish
their state updates), and when the env's power-flow results arrive it reports its
observation, cost and safety (:class:`~powergrid.agents.site.Site`); ``stop`` ends it. It
holds no reference to the env: everything arrives as messages.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from heron.agents.proxy import ENVIRONMENT_ID
from heron.messaging.base import MessageBroker
from heron.messaging.channels import ChannelManager
from heron.messaging.security import Keyring, SecureBroker
from powergrid.agents.grid_agent import GridAgent
from powergrid.agents.site import Site
from powergrid.envs.remote_sites import control_channel

__all__ = ["Served", "serve", "site_agent", "provision_keys", "identities", "broker_from_url", "restart_devices", "follow_weather"]


def broker_from_url(url: str, keys: str | os.PathLike | None = None) -> MessageBroker:
    """The broker a URL names: ``redis://`` or ``rediss://`` (Redis Streams), ``kafka://host:port[,host:port]``
    (Kafka; ``?topic_prefix=...&group_id=...`` set those arguments); with a key file ``keys``,
    a :class:`~heron.messaging.security.SecureBroker` over it acting as the file's identities."""
    if keys is not None:
        ring = Keyring.from_file(keys)
        return SecureBroker(broker_from_url(url), ring, identities=ring.identities())
    if url.startswith(("redis://", "rediss://", "unix://")):
        from heron.messaging.redis import RedisBroker

        return RedisBroker(url)
    if url.startswith("kafka://"):
        from urllib.parse import parse_qsl, urlsplit

        from heron.messaging.kafka import KafkaBroker

        parts = urlsplit(url)
        options = dict(parse_qsl(parts.query))
        unknown = sorted(set(options) - {"topic_prefix", "group_id"})
        if unknown:
            raise ValueError(f"broker URL {url!r}: unknown option(s) {unknown}; expected topic_prefix, group_id")
        return KafkaBroker(parts.netloc, **options)
    raise ValueError(f"no broker for URL {url!r}; expected redis://host:port/db or kafka://host:port")


def identities(env: Any) -> list[str]:
    """Every identity that signs messages in ``env``: the env, each controller and each device."""
    return [ENVIRONMENT_ID, *env.possible_agents, *(d for a in env.agent_dict.values() for d in a.devices)]


def provision_keys(env: Any, directory: str | os.PathLike) -> Keyring:
    """Fresh keys for every identity of ``env`` (a MultiAgentMicrogrids): ``environment.json``
    (all of them, for the env's process) and ``<site>.json`` per site (its own and its
    devices'), each readable by its owner only. Returns the env's keyring."""
    ring = Keyring.generate(identities(env))
    os.makedirs(directory, exist_ok=True)
    ring.save(os.path.join(directory, f"{ENVIRONMENT_ID}.json"))
    for agent_id, agent in env.agent_dict.items():
        ring.save(os.path.join(directory, f"{agent_id}.json"), [agent_id, *agent.devices])
    return ring


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


def site_agent(agent_id: str, config: Mapping[str, Any] | None = None) -> GridAgent:
    """Controller ``agent_id`` with its devices, built from the env's ``config`` (the same setup
    gives the same devices), ready to :func:`serve`."""
    from powergrid.envs import MultiAgentMicrogrids

    local = MultiAgentMicrogrids({**(config or {}), "centralized": True, "message_broker": None})
    if agent_id not in local.agent_dict:
        raise ValueError(f"site {agent_id!r} is not an agent of this config; agents: {local.possible_agents}")
    return local.agent_dict[agent_id]
