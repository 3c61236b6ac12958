"""``PowerLimits``: a unit's P-Q capability, as the earlier package named it.

The capability is the intersection of the static ranges ``[p_min_MW, p_max_MW]`` and
``[q_min_MVAr, q_max_MVAr]``, the apparent-power circle ``|S| <= s_rated_MVA * derate_frac``
and the power-factor wedge ``|Q| <= |P| tan(arccos(pf_min_abs))``; a limit left ``None`` does
not bind. Observed: the limits that are set, in field order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider

__all__ = ["PowerLimits"]

_FIELDS = ("s_rated_MVA", "derate_frac", "p_min_MW", "p_max_MW", "q_min_MVAr", "q_max_MVAr", "pf_min_abs")


@dataclass
class PowerLimits(FeatureProvider):
    visibility: list = field(default_factory=lambda: ["owner"])
    s_rated_MVA: Optional[float] = None
    derate_frac: Optional[float] = None
    p_min_MW: Optional[float] = None
    p_max_MW: Optional[float] = None
    q_min_MVAr: Optional[float] = None
    q_max_MVAr: Optional[float] = None
    pf_min_abs: Optional[float] = None

    def __post_init__(self) -> None:
        for key in _FIELDS:
            value = getattr(self, key)
            if value is not None:
                if not np.isfinite(value):
                    raise ValueError(f"PowerLimits: {key} must be finite, got {value!r}")
                setattr(self, key, float(value))
        self._check_pf()
        if self.s_rated_MVA is not None and self.s_rated_MVA < 0:
            raise ValueError(f"PowerLimits: s_rated_MVA must be >= 0, got {self.s_rated_MVA}")

    def _check_pf(self) -> None:
        if self.pf_min_abs is not None and not 0.0 < self.pf_min_abs <= 1.0:
            raise ValueError(f"PowerLimits: pf_min_abs must be in (0, 1], got {self.pf_min_abs}")

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, k) for k in self.names()], dtype=np.float32)

    def names(self) -> list[str]:
        return [k for k in _FIELDS if getattr(self, k) is not None]

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PowerLimits":
        return cls(**{k: d.get(k) for k in _FIELDS})

    def clip_(self) -> "PowerLimits":
        """Derating into [0, 1], reversed ranges put in order; an invalid power factor raises."""
        self._check_pf()
        if self.derate_frac is not None:
            self.derate_frac = float(np.clip(self.derate_frac, 0.0, 1.0))
        if self.p_min_MW is not None and self.p_max_MW is not None and self.p_min_MW > self.p_max_MW:
            self.p_min_MW, self.p_max_MW = self.p_max_MW, self.p_min_MW
        if self.q_min_MVAr is not None and self.q_max_MVAr is not None and self.q_min_MVAr > self.q_max_MVAr:
            self.q_min_MVAr, self.q_max_MVAr = self.q_max_MVAr, self.q_min_MVAr
        return self

    @property
    def s_limit(self) -> float | None:
        """The apparent-power limit in use (MVA): the rating times the derating."""
        if self.s_rated_MVA is None:
            return None
        return self.s_rated_MVA * (1.0 if self.derate_frac is None else self.derate_frac)

    def effective_q_bounds(self, p: float) -> tuple[float | None, float | None]:
        """The reactive range at active power ``p``; (None, None) when nothing limits Q."""
        lows, highs = [], []
        if self.q_min_MVAr is not None:
            lows.append(self.q_min_MVAr)
        if self.q_max_MVAr is not None:
            highs.append(self.q_max_MVAr)
        s = self.s_limit
        if s is not None:
            q = math.sqrt(max(s * s - p * p, 0.0))
            lows.append(-q)
            highs.append(q)
        if self.pf_min_abs is not None:
            q = abs(p) * math.sqrt(1.0 / self.pf_min_abs ** 2 - 1.0)
            lows.append(-q)
            highs.append(q)
        return (max(lows) if lows else None, min(highs) if highs else None)

    def feasible(self, p: float, q: float) -> dict[str, float]:
        """How far (p, q) lies outside each limit (0 where it holds)."""
        p_violation = max((self.p_min_MW - p) if self.p_min_MW is not None else 0.0,
                          (p - self.p_max_MW) if self.p_max_MW is not None else 0.0, 0.0)
        q_violation = max((self.q_min_MVAr - q) if self.q_min_MVAr is not None else 0.0,
                          (q - self.q_max_MVAr) if self.q_max_MVAr is not None else 0.0, 0.0)
        s = self.s_limit
        s_excess = max(math.hypot(p, q) - s, 0.0) if s is not None else 0.0
        pf_violation = 0.0
        if self.pf_min_abs is not None:
            pf_violation = max(abs(q) - abs(p) * math.sqrt(1.0 / self.pf_min_abs ** 2 - 1.0), 0.0)
        return {"p_violation": p_violation, "q_violation": q_violation, "s_excess": s_excess, "pf_violation": pf_violation}

    def project_pq(self, p: float, q: float) -> tuple[float, float]:
        """The nearest operating point inside the limits, P first: P into its range (and the
        circle), then Q into its range at that P."""
        if self.p_min_MW is not None:
            p = max(p, self.p_min_MW)
        if self.p_max_MW is not None:
            p = min(p, self.p_max_MW)
        s = self.s_limit
        if s is not None:
            p = float(np.clip(p, -s, s))
        low, high = self.effective_q_bounds(p)
        if low is not None:
            q = max(q, low)
        if high is not None:
            q = min(q, high)
        return p, q
