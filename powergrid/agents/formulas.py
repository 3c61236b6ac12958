"""The device physics, written once as formulas on one device's numbers.

A device acting alone (distributed mode) calls them on its own row read as Python floats; a
fleet (:mod:`powergrid.agents.fleets`) applies their twins, compiled by Numba into numpy ufuncs
(:class:`on_arrays`), to the rows it is given, with the same IEEE operations. Formulas that
are plain arithmetic (the costs) serve arrays as they are. Power signs: generators inject (+),
storage consumes when charging (+, the pandapower convention).
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["INSTANT_H", "on_arrays", "generator_cost", "generator_marginal_cost", "generator_p", "generator_q",
           "generator_output", "storage_power", "storage_soc", "storage_cost", "storage_violation"]

#: The duration (hours) an action effect counts for when no time passes (event-driven mode):
#: short enough that only a unit that is exactly empty or full is limited.
INSTANT_H = 1e-9


class on_arrays:  # noqa: N801 (used like a function: ``twin = on_arrays(formula, n_args)``)
    """``formula``, compiled by Numba into a numpy ufunc: it broadcasts over fleets and batches
    at about a microsecond a call, where the same steps as numpy expressions cost about half a
    microsecond each on the fleets' few-element arrays. Built on the first call, not at import:
    building the ufuncs costs about 0.1 s each even from Numba's cache, which ``import
    powergrid.envs`` should not pay."""

    def __init__(self, formula: Any, n_args: int) -> None:
        self.formula, self.n_args, self._ufunc = formula, n_args, None

    def __call__(self, *args: Any) -> Any:
        ufunc = self._ufunc
        if ufunc is None:
            from numba import vectorize  # here, not at import: Numba's own import is 0.4 s

            signature = f"float64({', '.join(['float64'] * self.n_args)})"
            ufunc = self._ufunc = vectorize([signature], cache=True)(self.formula)
        return ufunc(*args)


# ------------------------------------------------------------------ formulas
def generator_cost(p: Any, a: Any, b: Any, c: Any, dt_h: float) -> Any:
    """Fuel cost a·P² + b·P + c per hour, over ``dt_h`` hours."""
    return (a * p * p + b * p + c) * dt_h


def generator_marginal_cost(p: Any, a: Any, b: Any) -> Any:
    """d(cost)/dP = 2a·P + b per MWh: what a generator asks for one more MW."""
    return 2.0 * a * p + b


def generator_p(p: float, p_min: float, p_max: float, s_max: float) -> float:
    """The active power a generator commanded ``p`` delivers: within [p_min, min(p_max, s_max)]."""
    return min(max(p, p_min), min(p_max, s_max))


def generator_q(q: float, p: float, q_min: float, q_max: float, s_max: float, q_slope: float, q_idle: float) -> float:
    """The reactive power it delivers at active power ``p``: within [q_min, q_max], the
    apparent-power circle, and the power-factor cone |Q| <= q_slope·P + q_idle
    (``GeneratorFleet`` sets q_slope = tan(acos(pf_min)), and q_idle = s_max when pf_min is 0:
    no cone). Active power has priority; reactive power gives way."""
    cap = min(math.sqrt(max(s_max * s_max - p * p, 0.0)), q_slope * p + q_idle)
    return min(max(q, max(q_min, -cap)), min(q_max, cap))


def generator_output(p: float, q: float, p_min: float, p_max: float, q_min: float, q_max: float, s_max: float,
                     q_slope: float, q_idle: float) -> tuple[float, float]:
    """(P, Q) a generator commanded (p, q) delivers (``generator_p``, then ``generator_q``)."""
    p = generator_p(p, p_min, p_max, s_max)
    return p, generator_q(q, p, q_min, q_max, s_max, q_slope, q_idle)


def storage_power(p: float, soc: float, capacity: float, eff_ch: float, eff_dis: float, dt_h: float, soc_min: float,
                  soc_max: float) -> float:
    """What a storage unit commanded ``p`` MW (within its rating) delivers for ``dt_h`` hours
    within its window [soc_min, soc_max] (what its battery management allows): no more
    discharge than the energy it holds above soc_min (times eff_dis), no more charge than the
    room left below soc_max (over eff_ch). ``dt_h`` of 0 is an instant (``INSTANT_H``): only a
    unit at an end of its window is limited."""
    dt = dt_h if dt_h > INSTANT_H else INSTANT_H
    above, below = max(soc - soc_min, 0.0), max(soc_max - soc, 0.0)
    return min(max(p, -above * capacity * eff_dis / dt), below * capacity / (eff_ch * dt))


def storage_soc(soc: float, p: float, capacity: float, eff_ch: float, eff_dis: float, dt_h: float, soc_min: float,
                soc_max: float) -> float:
    """State of charge after delivering ``p`` (see ``storage_power``) for ``dt_h`` hours: charging
    (p > 0) stores p·eff_ch, discharging (p < 0) draws p / eff_dis. The clip to the window only
    removes rounding: a delivered power never moves the state of charge further (and a state
    set outside the window is not moved into it)."""
    energy = (p * eff_ch if p > 0.0 else p / eff_dis) * dt_h
    return min(max(soc + energy / capacity, min(soc, soc_min)), max(soc, soc_max))


def storage_cost(p: Any, cost_per_mwh: Any, dt_h: float) -> Any:
    """Throughput (wear) cost: every MWh in or out costs ``cost_per_mwh``."""
    return cost_per_mwh * abs(p) * dt_h


def storage_violation(soc: float, soc_min: float, soc_max: float) -> float:
    """How far the state of charge lies outside [soc_min, soc_max]."""
    return max(soc - soc_max, 0.0) + max(soc_min - soc, 0.0)
