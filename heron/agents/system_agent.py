"""Level-3 agents: the system operator above the coordinators."""
from __future__ import annotations

from heron.agents.base import SYSTEM_LEVEL
from heron.agents.coordinator_agent import CoordinatorAgent

__all__ = ["SystemAgent"]


class SystemAgent(CoordinatorAgent):
    """Directs coordinators (e.g. microgrid controllers); sees features tagged ``system``."""

    level = SYSTEM_LEVEL
    default_tick_interval = 300.0
