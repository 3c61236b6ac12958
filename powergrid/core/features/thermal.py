"""``ThermalLoading``: a branch's loading in percent of its rating, as the earlier package named it.

Observed as a fraction (``loading_frac`` = percent / 100). Balanced only: the power flow here
is positive-sequence, so per-phase loadings (``loading_percentage_ph``) never exist and a
three-phase model is refused by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider
from powergrid.utils.phase import PhaseModel, PhaseSpec, require_balanced

__all__ = ["ThermalLoading"]

#: ``clamp_`` keeps loadings within [0, MAX_LOADING_PCT] percent
MAX_LOADING_PCT = 200.0


@dataclass
class ThermalLoading(FeatureProvider):
    visibility: list = field(default_factory=lambda: ["owner"])
    phase_model: PhaseModel = PhaseModel.BALANCED_1PH
    phase_spec: Optional[PhaseSpec] = None
    loading_percentage: Optional[float] = None
    loading_percentage_ph: Optional[list] = None

    def __post_init__(self) -> None:
        self.phase_model = require_balanced(self.phase_model, "ThermalLoading")
        if self.loading_percentage_ph is not None:
            raise ValueError("ThermalLoading: the balanced model forbids per-phase 'loading_percentage_ph'")
        if self.loading_percentage is None:
            raise ValueError("ThermalLoading: the balanced model requires 'loading_percentage'")
        if not np.isfinite(self.loading_percentage):
            raise ValueError(f"ThermalLoading: loading_percentage must be finite, got {self.loading_percentage!r}")
        self.loading_percentage = float(self.loading_percentage)

    def vector(self) -> np.ndarray:
        return np.array([self.loading_percentage / 100.0], dtype=np.float32)

    def names(self) -> list[str]:
        return ["loading_frac"]

    def clamp_(self) -> "ThermalLoading":
        self.loading_percentage = float(np.clip(self.loading_percentage, 0.0, MAX_LOADING_PCT))
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"phase_model": self.phase_model.value, "phase_spec": None, "loading_percentage": self.loading_percentage}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ThermalLoading":
        return cls(phase_model=PhaseModel(d.get("phase_model", PhaseModel.BALANCED_1PH.value)),
                   loading_percentage=d.get("loading_percentage"), loading_percentage_ph=d.get("loading_percentage_ph"))
