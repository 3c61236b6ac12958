"""Agents of the hierarchy (field, coordinator, system) and the proxy for distributed mode."""
from heron.agents.base import COORDINATOR_LEVEL, FIELD_LEVEL, SYSTEM_LEVEL, Agent
from heron.agents.coordinator_agent import CoordinatorAgent
from heron.agents.field_agent import FieldAgent
from heron.agents.proxy import Proxy, ProxyAgent
from heron.agents.system_agent import SystemAgent

__all__ = [
    "Agent", "COORDINATOR_LEVEL", "CoordinatorAgent", "FIELD_LEVEL", "FieldAgent", "Proxy", "ProxyAgent",
    "SYSTEM_LEVEL", "SystemAgent",
]
