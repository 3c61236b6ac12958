"""Network safety limits, each formula written once.

``voltage_violation`` and ``overload`` are numpy expressions, so they serve a whole network or a
batch of copies (array in, array out). In distributed mode every microgrid evaluates its own
few buses and branches, where numpy's per-call overhead (about half a microsecond a ufunc)
would dominate; ``network_violation`` compiles the same two formulas for one number each and
sums them in Numba (0.2 µs against 8 µs). Only distributed mode loads that kernel.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["V_MIN", "V_MAX", "voltage_violation", "overload", "network_violation"]

V_MIN, V_MAX = 0.95, 1.05  # pu


def voltage_violation(vm):
    """Per-bus distance (pu) outside [V_MIN, V_MAX]."""
    return np.maximum(vm - V_MAX, 0.0) + np.maximum(V_MIN - vm, 0.0)


def overload(loading_percent):
    """Per-branch loading above 100 %, as a fraction."""
    return np.maximum(loading_percent * 0.01 - 1.0, 0.0)


_voltage_violation_one = njit(voltage_violation)
_overload_one = njit(overload)


@njit(cache=True)
def network_violation(vm: np.ndarray, line_loading: np.ndarray, trafo_loading: float) -> float:
    """One microgrid's network safety: its buses' voltage violations, its lines' and its
    connection transformer's overloads, summed."""
    total = _overload_one(trafo_loading)
    for v in vm:
        total += _voltage_violation_one(v)
    for loading in line_loading:
        total += _overload_one(loading)
    return total
