"""``PhaseConnection``: whether a device is connected, as the earlier package named it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider
from powergrid.utils.phase import PhaseModel, PhaseSpec, require_balanced

__all__ = ["PhaseConnection"]

_ON, _OFF = {"ON", "TRUE", "1"}, {"", "OFF", "NONE", "FALSE", "0"}


@dataclass
class PhaseConnection(FeatureProvider):
    """A balanced connection, ``"ON"`` or off (``None``/``"OFF"``); its vector is ``[1]`` when
    connected and empty otherwise, as the earlier feature's."""

    phase_model: PhaseModel = PhaseModel.BALANCED_1PH
    phase_spec: Optional[PhaseSpec] = None
    connection: Optional[str] = None

    def __post_init__(self) -> None:
        self.phase_model = require_balanced(self.phase_model, "PhaseConnection")
        token = "" if self.connection is None else str(self.connection).strip().upper()
        if token not in _ON | _OFF:
            raise ValueError(f"PhaseConnection: connection must be 'ON' or 'OFF' in a balanced model, got {self.connection!r}")
        self.connection = "ON" if token in _ON else None

    def vector(self) -> np.ndarray:
        return np.ones(1 if self.connection else 0, dtype=np.float32)

    def names(self) -> list[str]:
        return ["conn_present"] if self.connection else []

    def to_dict(self) -> dict[str, Any]:
        return {"phase_model": self.phase_model.value, "connection": self.connection}
