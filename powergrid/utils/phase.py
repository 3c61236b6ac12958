"""Phase models of a connection (the earlier package's ``powergrid.utils.phase``).

This package's power flow is balanced (positive sequence): features accept
``PhaseModel.BALANCED_1PH``; a three-phase model is refused by name rather than run as if balanced.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["PhaseModel", "PhaseSpec", "require_balanced"]


class PhaseModel(Enum):
    BALANCED_1PH = "balanced_1ph"
    THREE_PHASE = "three_phase"


@dataclass
class PhaseSpec:
    """The phases a device connects to (``"A"``, ``"AB"``, ``"ABC"``), in A-B-C order."""

    phases: str = ""
    has_neutral: bool = False
    earth_bond: bool = False

    def __post_init__(self) -> None:
        wanted = set(str(self.phases).upper())
        self.phases = "".join(p for p in "ABC" if p in wanted)
        self.earth_bond = self.earth_bond and self.has_neutral  # no neutral, nothing to bond

    @property
    def nph(self) -> int:
        return len(self.phases)


def require_balanced(model: PhaseModel | str, what: str) -> PhaseModel:
    """``model`` as a PhaseModel if it is the balanced one; ``ValueError`` naming ``what`` otherwise."""
    try:
        model = PhaseModel(model.value if isinstance(model, PhaseModel) else model)
    except ValueError:
        raise ValueError(f"{what}: unknown phase model {model!r}; expected one of {[m.value for m in PhaseModel]}") from None
    if model is not PhaseModel.BALANCED_1PH:
        raise ValueError(f"{what}: {model.value} is not modelled; this package's power flow is balanced "
                         f"(positive sequence): use PhaseModel.BALANCED_1PH")
    return model
