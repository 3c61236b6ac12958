"""The earlier ``powergrid.agents.proxy_agent``: the state proxy of distributed mode, on a broker.

The environment publishes each power flow's results on ``custom_channel('power_flow', env,
proxy)``; the proxy keeps the newest (``network_state_cache``) and sends each microgrid agent
its entry on ``info_channel(proxy, agent, env)``. This package's distributed env does the same
through :class:`powergrid.envs.network_proxy.NetworkStateProxy` (``env.proxy_agent``).
"""
from __future__ import annotations

from typing import Any

from heron.compat.proxy_agent import PROXY_LEVEL
from heron.compat.proxy_agent import ProxyAgent as StateProxyAgent
from heron.messaging.channels import ChannelManager

__all__ = ["ProxyAgent", "PROXY_LEVEL", "POWER_FLOW_CHANNEL_TYPE"]

POWER_FLOW_CHANNEL_TYPE = "power_flow"


class ProxyAgent(StateProxyAgent):
    """A state proxy that needs a broker and opens its channels at construction."""

    result_channel_type = POWER_FLOW_CHANNEL_TYPE

    def __init__(self, agent_id: str = "proxy_agent", message_broker: Any = None, env_id: str | None = None,
                 subordinate_agents: list[str] | None = None, visibility_rules: dict[str, list[str]] | None = None,
                 history_length: int = 100) -> None:
        if message_broker is None:
            raise ValueError("the power grid ProxyAgent requires a message broker, e.g. message_broker=InMemoryBroker()")
        super().__init__(agent_id, env_id, subordinate_agents, visibility_rules, history_length, message_broker=message_broker)
        self.broker.create_channel(ChannelManager.custom_channel(self.result_channel_type, self.env_id, self.agent_id))
        for sid in self.subordinate_agents:
            self.broker.create_channel(ChannelManager.info_channel(self.agent_id, sid, self.env_id))

    @property
    def network_state_cache(self) -> dict[str, Any]:
        return self.state_cache

    @network_state_cache.setter
    def network_state_cache(self, state: dict[str, Any]) -> None:
        self.state_cache = state

    def receive_network_state_from_environment(self) -> dict[str, Any] | None:
        return self.receive_state_from_environment()

    def distribute_network_state_to_agents(self) -> None:
        self.distribute_state_to_agents()

    def get_latest_network_state_for_agent(self, agent_id: str) -> dict[str, Any]:
        return self.get_latest_state_for_agent(agent_id)
