"""Network results as features, as the earlier package named them: ``BusVoltages``,
``LineFlows`` and ``NetworkMetrics`` (what an operator's state holds after a power flow)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider

__all__ = ["BusVoltages", "LineFlows", "NetworkMetrics"]


def _per_element(owner: str, names: list, **columns: Any) -> dict[str, np.ndarray]:
    """The columns as float arrays, each one value per named element."""
    out = {}
    for key, values in columns.items():
        array = np.asarray([] if values is None else values, dtype=np.float64).reshape(-1)
        if array.size != len(names):
            raise ValueError(f"{owner}: {key} has {array.size} values for {len(names)} elements {list(names)}")
        out[key] = array
    return out


@dataclass
class BusVoltages(FeatureProvider):
    """Voltage magnitude (pu) and angle (degrees) per bus; observed magnitudes first."""

    visibility: list = field(default_factory=lambda: ["system"])
    vm_pu: Optional[Any] = None
    va_deg: Optional[Any] = None
    bus_names: list = field(default_factory=list)

    def __post_init__(self) -> None:
        columns = _per_element("BusVoltages", self.bus_names, vm_pu=self.vm_pu, va_deg=self.va_deg)
        self.vm_pu, self.va_deg = columns["vm_pu"], columns["va_deg"]

    def vector(self) -> np.ndarray:
        return np.concatenate([self.vm_pu, self.va_deg]).astype(np.float32)

    def names(self) -> list[str]:
        return [f"{key}_{bus}" for key in ("vm_pu", "va_deg") for bus in self.bus_names]


@dataclass
class LineFlows(FeatureProvider):
    """Active and reactive power at each line's from-end (MW, Mvar) and its loading (%)."""

    visibility: list = field(default_factory=lambda: ["system"])
    p_from_mw: Optional[Any] = None
    q_from_mvar: Optional[Any] = None
    loading_percent: Optional[Any] = None
    line_names: list = field(default_factory=list)

    def __post_init__(self) -> None:
        columns = _per_element("LineFlows", self.line_names, p_from_mw=self.p_from_mw, q_from_mvar=self.q_from_mvar,
                               loading_percent=self.loading_percent)
        self.p_from_mw, self.q_from_mvar, self.loading_percent = columns.values()

    def vector(self) -> np.ndarray:
        return np.concatenate([self.p_from_mw, self.q_from_mvar, self.loading_percent]).astype(np.float32)

    def names(self) -> list[str]:
        return [f"{key}_{line}" for key in ("p_from_mw", "q_from_mvar", "loading_percent") for line in self.line_names]


@dataclass
class NetworkMetrics(FeatureProvider):
    """Totals over the network: generation, load and losses (MW), generation and load (Mvar)."""

    visibility: list = field(default_factory=lambda: ["system"])
    total_gen_mw: float = 0.0
    total_load_mw: float = 0.0
    total_loss_mw: float = 0.0
    total_gen_mvar: float = 0.0
    total_load_mvar: float = 0.0
