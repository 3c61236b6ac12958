"""``ElectricalBasePh``: a device's power at its connection point, as the earlier package named it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from heron.core.feature import FeatureProvider
from powergrid.utils.phase import PhaseModel, PhaseSpec, require_balanced

__all__ = ["ElectricalBasePh"]


@dataclass
class ElectricalBasePh(FeatureProvider):
    """P (MW, positive injects for a generator element), Q (Mvar), and optionally the voltage
    magnitude (pu) and angle (rad) at the bus. Values left ``None`` are not part of the vector."""

    visibility: list = field(default_factory=list)
    phase_model: PhaseModel = PhaseModel.BALANCED_1PH
    phase_spec: Optional[PhaseSpec] = None
    P_MW: Optional[float] = None
    Q_MVAr: Optional[float] = None
    Vm_pu: Optional[float] = None
    Va_rad: Optional[float] = None

    def __post_init__(self) -> None:
        self.phase_model = require_balanced(self.phase_model, "ElectricalBasePh")
        if all(getattr(self, k) is None for k in ("P_MW", "Q_MVAr", "Vm_pu", "Va_rad")):
            raise ValueError("ElectricalBasePh needs at least one of P_MW, Q_MVAr, Vm_pu, Va_rad")
        for key in ("P_MW", "Q_MVAr", "Vm_pu", "Va_rad"):
            if getattr(self, key) is not None:
                self.set_values(**{key: float(getattr(self, key))})

    def reset(self, **overrides: Any) -> "ElectricalBasePh":
        """Powers and angle to 0, voltage to 1 pu (the values in use), then ``overrides``."""
        neutral = {"P_MW": 0.0, "Q_MVAr": 0.0, "Vm_pu": 1.0, "Va_rad": 0.0}
        self.set_values(**{k: v for k, v in neutral.items() if getattr(self, k) is not None}, **overrides)
        return self
