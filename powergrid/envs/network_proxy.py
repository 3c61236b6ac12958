"""``env.proxy_agent``: the env's network state as the earlier package's ProxyAgent showed it.

In distributed mode the exchange (:mod:`powergrid.envs.exchange`) sends each site the results
of every power flow on its own result channel. This view keeps the last of them, as
``network_state_cache`` (``{'converged': ..., 'agents': {agent id: its results}}``), and, on
request, sends each agent its part on ``ChannelManager.info_channel('proxy_agent', agent, env)``
filtered by ``visibility_rules`` (agent id -> the result keys it may see; None: all). The
rules filter these messages only: a site always receives its own buses' results, which its
observation is made of.
"""
from __future__ import annotations

from typing import Any

from heron.messaging.base import Message, MessageType
from heron.messaging.channels import ChannelManager
from powergrid.envs.exchange import Exchange

__all__ = ["NetworkStateProxy", "PROXY_ID"]

PROXY_ID = "proxy_agent"


class NetworkStateProxy:
    """The last network state of a distributed env, and its filtered distribution to agents."""

    agent_id = PROXY_ID

    def __init__(self, exchange: Exchange, visibility_rules: dict[str, list[str]] | None = None) -> None:
        self.exchange = exchange
        self.visibility_rules = visibility_rules

    @property
    def subordinate_agents(self) -> list[str]:
        return list(self.exchange.agent_ids)

    @property
    def network_state_cache(self) -> dict[str, Any]:
        """``{}`` before the first step, then the last power flow's results of every agent."""
        results = self.exchange.last_results
        if not results:
            return {}
        return {"converged": all(r["converged"] for r in results), "agents": dict(zip(self.exchange.agent_ids, results))}

    def visible_state(self, agent_id: str) -> dict[str, Any]:
        """What ``agent_id`` may see of its last results under ``visibility_rules``."""
        if agent_id not in self.exchange.agent_ids:
            raise ValueError(f"unknown agent {agent_id!r}; agents: {self.exchange.agent_ids}")
        state = self.network_state_cache.get("agents", {}).get(agent_id, {})
        rules = self.visibility_rules
        if rules is None or agent_id not in rules:
            return dict(state)
        allowed = rules[agent_id]
        if not isinstance(allowed, (list, tuple, set)) or not all(isinstance(k, str) for k in allowed):
            raise ValueError(f"visibility_rules[{agent_id!r}] must be a list of result keys, got {allowed!r}")
        return {key: value for key, value in state.items() if key in allowed}

    def distribute_network_state_to_agents(self) -> None:
        """Send each agent what it may see, on its info channel from the proxy."""
        ex = self.exchange
        for agent_id in ex.agent_ids:
            message = Message(ex.env_id, PROXY_ID, agent_id, float(ex.core.t), MessageType.INFO, self.visible_state(agent_id))
            ex.broker.publish(ChannelManager.info_channel(PROXY_ID, agent_id, ex.env_id), message)

    def __repr__(self) -> str:
        return f"NetworkStateProxy(agents={self.subordinate_agents}, visibility_rules={self.visibility_rules})"
