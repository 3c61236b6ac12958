"""The earlier ``powergrid.agents.proxy_agent`` (a re-export of :mod:`powergrid.compat.proxy_agent`)."""
from powergrid.compat.proxy_agent import POWER_FLOW_CHANNEL_TYPE, PROXY_LEVEL, ProxyAgent

__all__ = ["POWER_FLOW_CHANNEL_TYPE", "PROXY_LEVEL", "ProxyAgent"]
