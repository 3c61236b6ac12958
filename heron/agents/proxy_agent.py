"""The earlier ``heron.agents.proxy_agent`` (a re-export of :mod:`heron.compat.proxy_agent`)."""
from heron.compat.proxy_agent import PROXY_LEVEL, ProxyAgent

__all__ = ["PROXY_LEVEL", "ProxyAgent"]
