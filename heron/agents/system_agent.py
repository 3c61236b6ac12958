"""Level-3 agents: the system operator above the coordinators."""
from __future__ import annotations

from typing import Any

from heron.agents.base import SYSTEM_LEVEL
from heron.agents.coordinator_agent import CoordinatorAgent
from heron.compat.agents import EarlierSystemAPI

__all__ = ["SystemAgent"]


class SystemAgent(EarlierSystemAPI, CoordinatorAgent):
    """Directs coordinators (e.g. microgrid controllers); sees features tagged ``system``. A
    ``config['coordinators']`` list is built into coordinators by ``_build_coordinators``."""

    level = SYSTEM_LEVEL
    default_tick_interval = 300.0
    subordinates_label = "coordinators"

    def __init__(self, agent_id: str = "system_agent", *args: Any, **kwargs: Any) -> None:
        super().__init__(agent_id, *args, **kwargs)
        if self.config.get("coordinators"):
            self._add_configured("coordinators", self._build_coordinators)
            self._wire()
