"""Running a site as a process of its own: ``python -m powergrid site MG1 --broker URL --env-id ID``.

Above the envs: :func:`site_agent` builds the controller ``MG1`` with its devices from the
env's config (the same setup gives the same devices), :func:`broker_from_url` the broker a URL
names, :func:`provision_keys` each process's key file; :func:`~powergrid.agents.site_process.serve`
(also ``GridAgent.run``) then serves the env until it says stop. The process holds no
reference to the env: everything arrives as messages.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from heron.agents.proxy import ENVIRONMENT_ID
from heron.messaging.base import MessageBroker
from heron.messaging.security import Keyring, SecureBroker
from powergrid.agents.grid_agent import GridAgent
from powergrid.agents.site_process import Served, serve
from powergrid.envs import MultiAgentMicrogrids

__all__ = ["site_agent", "broker_from_url", "identities", "provision_keys", "serve", "Served"]


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


def site_agent(agent_id: str, config: Mapping[str, Any] | None = None) -> GridAgent:
    """Controller ``agent_id`` with its devices, built from the env's ``config`` (the same setup
    gives the same devices), ready to :func:`serve`."""
    local = MultiAgentMicrogrids({**(config or {}), "centralized": True, "message_broker": None})
    if agent_id not in local.agent_dict:
        raise ValueError(f"site {agent_id!r} is not an agent of this config; agents: {local.possible_agents}")
    return local.agent_dict[agent_id]
