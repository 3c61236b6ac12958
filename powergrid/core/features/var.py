"""``ShuntCapacitorBlock``: a switched capacitor bank's ratings, as the earlier package named it.

A bank of ``kvar_total`` kvar, optionally in ``n_stages`` stages of ``stage_kvar_total`` kvar
each (the stages must add up to the total; either may be given and the other follows).
Observed: the total, then each stage. Balanced only: per-phase ratings (``kvar_ph``,
``stage_kvar_ph``) are refused, as the power flow here is positive-sequence, and a given
``phase_spec`` is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider
from powergrid.utils.phase import PhaseModel, PhaseSpec, require_balanced

__all__ = ["ShuntCapacitorBlock"]


@dataclass
class ShuntCapacitorBlock(FeatureProvider):
    visibility: list = field(default_factory=lambda: ["owner"])
    phase_model: PhaseModel = PhaseModel.BALANCED_1PH
    phase_spec: Optional[PhaseSpec] = None
    kvar_total: Optional[float] = None
    n_stages: Optional[int] = None
    stage_kvar_total: Optional[Any] = None
    kvar_ph: Optional[Any] = None
    stage_kvar_ph: Optional[Any] = None

    def __post_init__(self) -> None:
        self.phase_model = require_balanced(self.phase_model, "ShuntCapacitorBlock")
        self.phase_spec = None
        if self.kvar_ph is not None or self.stage_kvar_ph is not None:
            raise ValueError("ShuntCapacitorBlock: the balanced model forbids per-phase 'kvar_ph'/'stage_kvar_ph'")
        if self.stage_kvar_total is not None:
            stages = np.asarray(self.stage_kvar_total, dtype=np.float64).reshape(-1)
            if self.n_stages is None:
                self.n_stages = stages.size
            if stages.size != self.n_stages:
                raise ValueError(f"ShuntCapacitorBlock: 'stage_kvar_total' must have length m={self.n_stages}, got {stages.size}.")
            if not (np.isfinite(stages).all() and (stages >= 0).all()):
                raise ValueError(f"ShuntCapacitorBlock: stage ratings must be finite kvar >= 0, got {stages.tolist()}")
            if self.kvar_total is not None and not np.isclose(self.kvar_total, stages.sum()):
                raise ValueError(f"ShuntCapacitorBlock: Conflict: kvar_total={self.kvar_total} but the stages add up to {stages.sum()}")
            self.stage_kvar_total = stages
            self.kvar_total = float(stages.sum())
        elif self.n_stages:
            raise ValueError(f"ShuntCapacitorBlock: n_stages={self.n_stages}: Provide 'stage_kvar_total' (one rating per stage)")
        if self.kvar_total is None:
            raise ValueError("ShuntCapacitorBlock: give 'kvar_total' or 'stage_kvar_total'")
        if not (np.isfinite(self.kvar_total) and self.kvar_total >= 0):
            raise ValueError(f"ShuntCapacitorBlock: kvar_total must be finite and >= 0, got {self.kvar_total!r}")
        self.kvar_total = float(self.kvar_total)

    def vector(self) -> np.ndarray:
        stages = [] if self.stage_kvar_total is None else list(self.stage_kvar_total)
        return np.array([self.kvar_total, *stages], dtype=np.float32)

    def names(self) -> list[str]:
        return ["kvar_total", *(f"stage_kvar_{i}" for i in range(self.n_stages or 0))]

    def to_dict(self) -> dict[str, Any]:
        stages = None if self.stage_kvar_total is None else [float(v) for v in self.stage_kvar_total]
        return {"phase_model": self.phase_model.value, "phase_spec": None, "kvar_total": self.kvar_total,
                "n_stages": self.n_stages, "stage_kvar_total": stages}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ShuntCapacitorBlock":
        return cls(phase_model=PhaseModel(d.get("phase_model", PhaseModel.BALANCED_1PH.value)), kvar_total=d.get("kvar_total"),
                   n_stages=d.get("n_stages"), stage_kvar_total=d.get("stage_kvar_total"), kvar_ph=d.get("kvar_ph"),
                   stage_kvar_ph=d.get("stage_kvar_ph"))
