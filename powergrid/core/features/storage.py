"""``StorageBlock``: a storage unit's state of charge, limits and wear, as the earlier package named it.

A feature for devices written as classes (example 04's way); the env's own storage fleet keeps
these numbers in arrays. The state of charge is a fraction of ``e_capacity_MWh``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider

__all__ = ["StorageBlock"]

_REQUIRED = ("soc", "soc_min", "soc_max", "e_capacity_MWh", "p_ch_max_MW", "p_dsc_max_MW")


@dataclass
class StorageBlock(FeatureProvider):
    """Observed: ``soc``, and the wear so far (``e_throughput_MWh``, ``equiv_full_cycles``).
    Wear costs ``degr_cost_per_MWh`` per MWh moved and ``degr_cost_per_cycle`` per full cycle."""

    visibility: list = field(default_factory=lambda: ["owner"])
    soc: Optional[float] = None
    soc_min: Optional[float] = None
    soc_max: Optional[float] = None
    e_capacity_MWh: Optional[float] = None
    p_ch_max_MW: Optional[float] = None
    p_dsc_max_MW: Optional[float] = None
    ch_eff: float = 1.0
    dsc_eff: float = 1.0
    degr_cost_per_MWh: float = 0.0
    degr_cost_per_cycle: float = 0.0
    e_throughput_MWh: float = 0.0
    equiv_full_cycles: float = 0.0
    degr_cost_cum: float = 0.0

    def __post_init__(self) -> None:
        for key in _REQUIRED:
            if getattr(self, key) is None:
                raise ValueError(f"StorageBlock: {key} is None; it needs {list(_REQUIRED)}")
            setattr(self, key, float(getattr(self, key)))
        if not all(np.isfinite(getattr(self, f.name)) for f in fields(self) if isinstance(getattr(self, f.name), float)):
            raise ValueError(f"StorageBlock: every number must be finite, got {self.to_dict()}")
        if self.soc_min > self.soc_max:
            raise ValueError(f"StorageBlock: soc_min cannot be greater than soc_max ({self.soc_min} > {self.soc_max})")
        for key in ("soc", "soc_min", "soc_max"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ValueError(f"StorageBlock: {key} must be in [0, 1], got {getattr(self, key)}")
        if self.e_capacity_MWh <= 0:
            raise ValueError(f"StorageBlock: e_capacity_MWh must be > 0, got {self.e_capacity_MWh}")
        for key in ("p_ch_max_MW", "p_dsc_max_MW", "degr_cost_per_MWh", "degr_cost_per_cycle"):
            if getattr(self, key) < 0:
                raise ValueError(f"StorageBlock: {key} must be >= 0, got {getattr(self, key)}")
        for key in ("ch_eff", "dsc_eff"):
            if not 0.0 < getattr(self, key) <= 1.0:
                raise ValueError(f"StorageBlock: {key} must be in (0, 1], got {getattr(self, key)}")

    def vector(self) -> np.ndarray:
        return np.array([self.soc, self.e_throughput_MWh, self.equiv_full_cycles], dtype=np.float32)

    def names(self) -> list[str]:
        return ["soc", "e_throughput_MWh", "equiv_full_cycles"]

    def set_values(self, **values: Any) -> None:
        """Set fields; unknown names raise ``AttributeError`` naming them."""
        unknown = sorted(set(values) - {f.name for f in fields(self)})
        if unknown:
            raise AttributeError(f"StorageBlock: unknown fields {unknown}")
        for key, value in values.items():
            setattr(self, key, value)

    def clip_(self) -> "StorageBlock":
        """Bring the state of charge into its window and the efficiencies into (0, 1]."""
        self.soc = float(np.clip(self.soc, self.soc_min, self.soc_max))
        self.ch_eff = float(np.clip(self.ch_eff, 1e-6, 1.0))
        self.dsc_eff = float(np.clip(self.dsc_eff, 1e-6, 1.0))
        return self

    def soc_violation(self) -> float:
        """How far the state of charge is outside [soc_min, soc_max] (0 inside)."""
        return float(max(self.soc_min - self.soc, 0.0) + max(self.soc - self.soc_max, 0.0))

    def accumulate_throughput(self, energy_MWh: float) -> float:
        """Add ``|energy_MWh|`` moved; returns (and adds to ``degr_cost_cum``) the wear it costs."""
        moved = abs(float(energy_MWh))
        cycles = moved / self.e_capacity_MWh
        self.e_throughput_MWh += moved
        self.equiv_full_cycles += cycles
        cost = self.degr_cost_per_MWh * moved + self.degr_cost_per_cycle * cycles
        self.degr_cost_cum += cost
        return cost

    def reset(self, soc: float | None = None, reset_degradation: bool = False, random_init: bool = False,
              seed: int | None = None, **overrides: Any) -> "StorageBlock":
        """A new state of charge (given, or uniform in the window with ``random_init``); the wear
        counters restart with ``reset_degradation``."""
        if random_init:
            soc = float(np.random.default_rng(seed).uniform(self.soc_min, self.soc_max))
        if soc is not None:
            if not self.soc_min <= soc <= self.soc_max:
                raise ValueError(f"StorageBlock: reset soc {soc} is outside [{self.soc_min}, {self.soc_max}]")
            self.soc = float(soc)
        if reset_degradation:
            self.e_throughput_MWh = self.equiv_full_cycles = self.degr_cost_cum = 0.0
        if overrides:
            self.set_values(**overrides)
        return self
