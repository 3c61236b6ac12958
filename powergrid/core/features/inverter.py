"""``InverterBasedSource``: an inverter's output and its reactive control, as the earlier package named it.

Active power is ``p_MW`` (the instantaneous value) or else ``p_set_MW``. Reactive power follows
``ctrl_mode``: ``"q_set"`` (``q_set_MVAr``), ``"pf_set"`` (``pf_target``; leading gives Q > 0)
or ``"volt_var"`` (linear between (``vv_v1_pu``, ``vv_q1_MVAr``) and (``vv_v2_pu``,
``vv_q2_MVAr``), flat outside), then is clipped to ``[q_min_MVAr, q_max_MVAr]`` and the
apparent-power circle; ``q_clip_flag`` is 1 when it was. Balanced only: a three-phase model
is refused by name, as the power flow here is positive-sequence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider
from powergrid.utils.phase import PhaseModel, PhaseSpec, require_balanced

__all__ = ["InverterBasedSource"]

_MODES = ("q_set", "pf_set", "volt_var")


@dataclass
class InverterBasedSource(FeatureProvider):
    visibility: list = field(default_factory=lambda: ["owner"])
    phase_model: PhaseModel = PhaseModel.BALANCED_1PH
    phase_spec: Optional[PhaseSpec] = None
    alloc_frac_ph: Optional[list] = None
    s_rated_MVA: Optional[float] = None
    p_MW: Optional[float] = None
    p_set_MW: Optional[float] = None
    q_set_MVAr: Optional[float] = None
    q_min_MVAr: Optional[float] = None
    q_max_MVAr: Optional[float] = None
    ctrl_mode: str = "q_set"
    pf_target: Optional[float] = None
    pf_leading: bool = False
    vv_v1_pu: Optional[float] = None
    vv_v2_pu: Optional[float] = None
    vv_q1_MVAr: Optional[float] = None
    vv_q2_MVAr: Optional[float] = None
    expand_phases: bool = False
    include_derived: bool = True
    all_params: bool = False

    def __post_init__(self) -> None:
        self.phase_model = require_balanced(self.phase_model, "InverterBasedSource")
        if self.alloc_frac_ph is not None:
            raise ValueError("InverterBasedSource: alloc_frac_ph splits power over phases; the balanced model has none")
        if self.ctrl_mode not in _MODES:
            raise ValueError(f"InverterBasedSource: ctrl_mode must be one of {_MODES}, got {self.ctrl_mode!r}")
        if self.ctrl_mode == "pf_set" and not (self.pf_target is not None and 0.0 < self.pf_target <= 1.0):
            raise ValueError(f"InverterBasedSource: pf_set needs pf_target in (0, 1], got {self.pf_target!r}")
        if self.ctrl_mode == "volt_var":
            curve = (self.vv_v1_pu, self.vv_v2_pu, self.vv_q1_MVAr, self.vv_q2_MVAr)
            if any(v is None for v in curve) or not self.vv_v1_pu < self.vv_v2_pu:
                raise ValueError(f"InverterBasedSource: volt_var needs vv_v1_pu < vv_v2_pu and both Q points, got {curve}")

    @property
    def p(self) -> float:
        value = self.p_MW if self.p_MW is not None else self.p_set_MW
        return 0.0 if value is None else float(value)

    def q_command(self, v_pu: float | None = None) -> float:
        """The reactive power the control asks for (before limits)."""
        if self.ctrl_mode == "pf_set":
            q = abs(self.p) * math.sqrt(1.0 / self.pf_target ** 2 - 1.0)
            return q if self.pf_leading else -q
        if self.ctrl_mode == "volt_var":
            if v_pu is None:
                raise ValueError("InverterBasedSource: volt_var needs the voltage: vector(V_pu_for_vv=...)")
            frac = float(np.clip((v_pu - self.vv_v1_pu) / (self.vv_v2_pu - self.vv_v1_pu), 0.0, 1.0))
            return self.vv_q1_MVAr + frac * (self.vv_q2_MVAr - self.vv_q1_MVAr)
        return 0.0 if self.q_set_MVAr is None else float(self.q_set_MVAr)

    def output(self, v_pu: float | None = None) -> tuple[float, float, bool]:
        """(P, Q, whether Q was clipped) within the limits."""
        p, q_cmd = self.p, self.q_command(v_pu)
        low = -math.inf if self.q_min_MVAr is None else self.q_min_MVAr
        high = math.inf if self.q_max_MVAr is None else self.q_max_MVAr
        if self.s_rated_MVA is not None:
            room = math.sqrt(max(self.s_rated_MVA ** 2 - p * p, 0.0))
            low, high = max(low, -room), min(high, room)
        q = min(max(q_cmd, low), high)
        return p, q, q != q_cmd

    def vector(self, V_pu_for_vv: float | None = None) -> np.ndarray:
        p, q, clipped = self.output(V_pu_for_vv)
        return np.array([p, q, float(clipped)], dtype=np.float32)

    def names(self) -> list[str]:
        return ["p_MW", "q_MVAr", "q_clip_flag"]
