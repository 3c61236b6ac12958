"""``ElectricalBasePh``: a device's power at its connection point, as the earlier package named it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

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
    #: per-phase values and neutral current: three-phase telemetry, refused (the flow is balanced)
    P_MW_ph: Optional[Any] = None
    Q_MVAr_ph: Optional[Any] = None
    Vm_pu_ph: Optional[Any] = None
    Va_rad_ph: Optional[Any] = None
    I_neutral_A: Optional[float] = None

    def __post_init__(self) -> None:
        self.phase_model = require_balanced(self.phase_model, "ElectricalBasePh")
        per_phase = [k for k in ("P_MW_ph", "Q_MVAr_ph", "Vm_pu_ph", "Va_rad_ph") if getattr(self, k) is not None]
        if per_phase:
            raise ValueError(f"ElectricalBasePh: the balanced model forbids per-phase fields {per_phase}")
        if self.I_neutral_A is not None:
            raise ValueError("ElectricalBasePh: Neutral telemetry not allowed in the balanced model (I_neutral_A)")
        if all(getattr(self, k) is None for k in ("P_MW", "Q_MVAr", "Vm_pu", "Va_rad")):
            raise ValueError("ElectricalBasePh requires at least one of P_MW, Q_MVAr, Vm_pu, Va_rad")
        for key in ("P_MW", "Q_MVAr", "Vm_pu", "Va_rad"):
            value = getattr(self, key)
            if value is not None:
                array = np.asarray(value, dtype=np.float64)
                if array.size != 1:
                    raise ValueError(f"ElectricalBasePh: {key} is one number in the balanced model, got {value!r}")
                self.set_values(**{key: float(array.reshape(-1)[0])})

    def _scalars(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("P_MW", "Q_MVAr", "Vm_pu", "Va_rad") if getattr(self, k) is not None}

    def vector(self) -> np.ndarray:
        return np.array(list(self._scalars().values()), dtype=np.float32)

    def names(self) -> list[str]:
        return list(self._scalars())

    def reset(self, **overrides: Any) -> "ElectricalBasePh":
        """Powers and angle to 0, voltage to 1 pu (the values in use), then ``overrides``."""
        neutral = {"P_MW": 0.0, "Q_MVAr": 0.0, "Vm_pu": 1.0, "Va_rad": 0.0}
        self.set_values(**{k: v for k, v in neutral.items() if getattr(self, k) is not None}, **overrides)
        return self
