"""Level-1 agents: sensors and actuators at the edge of the grid."""
from __future__ import annotations

from typing import Any

import numpy as np

from heron.agents.base import FIELD_LEVEL, Agent
from heron.compat.agents import EarlierFieldAPI, FieldConfig
from heron.core.observation import Observation

__all__ = ["FieldAgent", "FieldConfig", "FIELD_LEVEL"]


class FieldAgent(EarlierFieldAPI, Agent):
    """A device-level agent. It executes setpoints from its coordinator, or its own policy's
    choice, through ``_execute_local_action`` (the hook device models override)."""

    level = FIELD_LEVEL
    default_tick_interval = 1.0

    def act(self, obs: Observation | None = None, upstream_action: Any = None) -> np.ndarray:
        vector = self._own_action(obs, upstream_action)
        if vector is None:  # holding: nothing new to execute
            return self.action.vector()
        self._execute_local_action(vector)
        return vector

    def _set_device_action(self, action: Any) -> None:
        """Set and execute an action given in full (flat ``[c..., d...]``) or as its continuous part only."""
        values = np.asarray(action, dtype=np.float64)
        if self.action.dim_d and values.shape == (self.action.dim_c,):
            self.action.set_values(c=values)
        else:
            self.action.set_values(values)
        self._execute_local_action(self.action.vector())

    def _execute_local_action(self, action: np.ndarray) -> None:
        """Apply the (already validated) flat action to the device; the base agent only records it."""
