"""The safety formulas of :mod:`powergrid.core.safety`, compiled for one microgrid's few
numbers (a site's evaluation in distributed mode)."""
from __future__ import annotations

import numpy as np
from numba import njit

from powergrid.core.safety import overload, voltage_violation

__all__ = ["network_violation"]

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
