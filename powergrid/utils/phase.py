"""Phase models of a connection (the earlier package's ``powergrid.utils.phase``).

This package's power flow is balanced (positive sequence): features accept
``PhaseModel.BALANCED_1PH``; a three-phase model is refused by name rather than run as if balanced.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

__all__ = ["PhaseModel", "PhaseSpec", "require_balanced", "check_phase_model_consistency"]


class PhaseModel(Enum):
    BALANCED_1PH = "balanced_1ph"
    THREE_PHASE = "three_phase"


@dataclass
class PhaseSpec:
    """The phases a device connects to (``"A"``, ``"AB"``, ``"ABC"``, any order), each once;
    letters other than A, B and C are dropped."""

    phases: str = ""
    has_neutral: bool = False
    earth_bond: bool = False

    def __post_init__(self) -> None:
        self.phases = "".join(dict.fromkeys(p for p in str(self.phases).upper() if p in "ABC"))
        self.earth_bond = bool(self.earth_bond and self.has_neutral)  # no neutral, nothing to bond
        self.has_neutral = bool(self.has_neutral)

    @property
    def nph(self) -> int:
        return len(self.phases)

    def index(self, phase: str) -> int:
        """Position of ``phase`` in this spec (``ValueError`` if it is not connected)."""
        if phase not in self.phases:
            raise ValueError(f"phase {phase!r} is not in {self.phases!r}")
        return self.phases.index(phase)

    def align_with(self, other: "PhaseSpec", values: Any, fill: float = 0.0, dtype: Any = np.float64) -> np.ndarray:
        """``values`` (one per phase of this spec) rearranged to ``other``'s phases; phases
        this spec lacks get ``fill``."""
        values = np.asarray(values)
        if values.shape != (self.nph,):
            raise ValueError(f"values must have shape ({self.nph},) for phases {self.phases!r}, got {values.shape}")
        out = np.full(other.nph, fill, dtype=dtype)
        for i, phase in enumerate(other.phases):
            if phase in self.phases:
                out[i] = values[self.phases.index(phase)]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"phases": self.phases, "has_neutral": self.has_neutral, "earth_bond": self.earth_bond}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PhaseSpec":
        return cls(d.get("phases", ""), bool(d.get("has_neutral", False)), bool(d.get("earth_bond", False)))


def check_phase_model_consistency(model: PhaseModel | str, spec: PhaseSpec | None, what: str = "feature") -> PhaseSpec | None:
    """The spec a feature keeps under ``model``: none when balanced (a given spec is dropped);
    a three-phase model needs a spec with at least one phase."""
    model = PhaseModel(model.value if isinstance(model, PhaseModel) else model)
    if model is PhaseModel.BALANCED_1PH:
        return None
    if not isinstance(spec, PhaseSpec) or spec.nph == 0:
        raise ValueError(f"{what}: the three-phase model requires a PhaseSpec with at least one phase, got {spec!r}")
    return spec


def require_balanced(model: PhaseModel | str, what: str) -> PhaseModel:
    """``model`` as a PhaseModel if it is the balanced one; ``ValueError`` naming ``what`` otherwise."""
    try:
        model = PhaseModel(model.value if isinstance(model, PhaseModel) else model)
    except ValueError:
        raise ValueError(f"{what}: Unsupported phase model {model!r}; expected one of {[m.value for m in PhaseModel]}") from None
    if model is not PhaseModel.BALANCED_1PH:
        raise ValueError(f"{what}: {model.value} is not modelled; this package's power flow is balanced "
                         f"(positive sequence): use PhaseModel.BALANCED_1PH")
    return model
