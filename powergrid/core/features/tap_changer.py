"""``TapChangerPh``: a tap changer's position, as the earlier package named it.

Observed one-hot over ``tap_min..tap_max`` (names ``tap_<k>``) or as the normalized position
``(pos - tap_min) / (tap_max - tap_min)``. Balanced only (one position for all phases); a
three-phase model is refused by name, as the power flow here is positive-sequence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider
from powergrid.utils.phase import PhaseModel, PhaseSpec, require_balanced

__all__ = ["TapChangerPh"]


@dataclass
class TapChangerPh(FeatureProvider):
    visibility: list = field(default_factory=lambda: ["owner"])
    phase_model: PhaseModel = PhaseModel.BALANCED_1PH
    phase_spec: Optional[PhaseSpec] = None
    tap_min: Optional[int] = None
    tap_max: Optional[int] = None
    tap_position: Optional[int] = None
    tap_pos_ph: Optional[list] = None
    one_hot: bool = True

    def __post_init__(self) -> None:
        if self.tap_min is None or self.tap_max is None:
            raise ValueError("TapChangerPh: Provide 'tap_min' and 'tap_max' (whole numbers)")
        self.tap_min, self.tap_max = int(self.tap_min), int(self.tap_max)
        if self.tap_max < self.tap_min:
            raise ValueError(f"TapChangerPh: 'tap_max' ({self.tap_max}) must be ≥ 'tap_min' ({self.tap_min}).")
        self.phase_model = require_balanced(self.phase_model, "TapChangerPh")
        if self.tap_pos_ph is not None:
            raise ValueError("TapChangerPh: the balanced model forbids 'tap_pos_ph' (per-phase positions)")
        if self.tap_position is None:
            raise ValueError("TapChangerPh: the balanced model requires 'tap_position'")
        self.tap_position = int(self.tap_position)

    def vector(self) -> np.ndarray:
        if self.one_hot:
            out = np.zeros(self.tap_max - self.tap_min + 1, dtype=np.float32)
            if self.tap_min <= self.tap_position <= self.tap_max:
                out[self.tap_position - self.tap_min] = 1.0
            return out
        span = self.tap_max - self.tap_min
        return np.array([(self.tap_position - self.tap_min) / span if span else 0.0], dtype=np.float32)

    def names(self) -> list[str]:
        if self.one_hot:
            return [f"tap_{k}" for k in range(self.tap_min, self.tap_max + 1)]
        return ["tap_pos_norm"]

    def clamp_(self) -> "TapChangerPh":
        self.tap_position = int(np.clip(self.tap_position, self.tap_min, self.tap_max))
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"phase_model": self.phase_model.value, "phase_spec": None, "tap_min": self.tap_min, "tap_max": self.tap_max,
                "tap_position": self.tap_position, "one_hot": self.one_hot}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TapChangerPh":
        return cls(phase_model=PhaseModel(d.get("phase_model", PhaseModel.BALANCED_1PH.value)), tap_min=d.get("tap_min"),
                   tap_max=d.get("tap_max"), tap_position=d.get("tap_position"), tap_pos_ph=d.get("tap_pos_ph"),
                   one_hot=bool(d.get("one_hot", True)))
