"""Network safety limits, each formula written once.

``voltage_violation`` and ``overload`` are numpy expressions, so they serve a whole network or a
batch of copies (array in, array out). In distributed mode every microgrid evaluates its own
few buses and branches, where numpy's per-call overhead (about half a microsecond a ufunc)
would dominate; ``network_violation`` compiles the same two formulas for one number each and
sums them in Numba (0.2 µs against 8 µs): :mod:`powergrid.core.safety_kernel`, which only
distributed mode loads (Numba's own import costs 0.4 s).
"""
from __future__ import annotations

import numpy as np

__all__ = ["V_MIN", "V_MAX", "voltage_violation", "overload"]

V_MIN, V_MAX = 0.95, 1.05  # pu


def voltage_violation(vm):
    """Per-bus distance (pu) outside [V_MIN, V_MAX]."""
    return np.maximum(vm - V_MAX, 0.0) + np.maximum(V_MIN - vm, 0.0)


def overload(loading_percent):
    """Per-branch loading above 100 %, as a fraction."""
    return np.maximum(loading_percent * 0.01 - 1.0, 0.0)
