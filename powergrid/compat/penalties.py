"""The earlier ``powergrid.utils.cost`` and ``powergrid.utils.safety``: one device's cost and
safety terms as scalar functions.

This package's env scores with vectorised fleets (``powergrid.agents.fleets``) and the network
limits of :mod:`powergrid.core.safety`; these functions keep the earlier definitions for code
that calls them directly, to the last bit (the branch overload here is ``(loading - 100) /
100``, which the earlier tests compare exactly; the env's ``loading / 100 - 1`` may differ from
it in the last bit).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["quadratic_cost", "polynomial_cost", "piecewise_linear_cost", "cost_from_curve", "ramping_cost", "switching_cost",
           "tap_change_cost", "energy_cost", "s_over_rating", "pf_penalty", "voltage_deviation", "soc_bounds_penalty",
           "loading_over_pct", "rate_of_change_penalty", "SafetySpec", "total_safety"]


# ----------------------------------------------------------------------------- costs
def quadratic_cost(P: float, a: float, b: float, c: float) -> float:
    """a P^2 + b P + c."""
    return a * P * P + b * P + c


def polynomial_cost(P: float, coeffs: Sequence[float]) -> float:
    """sum over k of coeffs[k] P^k (lowest power first)."""
    total, power = 0.0, 1.0
    for coefficient in coeffs:
        total += coefficient * power
        power *= P
    return total


def piecewise_linear_cost(P: float, coefs: Sequence[float]) -> float:
    """The curve through the knots ``(p0, f0, p1, f1, ...)`` (at least two, sorted by p here)
    at ``P``; beyond the first or last knot, the end segment's line continued."""
    assert len(coefs) % 2 == 0 and len(coefs) >= 4, "piecewise cost needs knots (p0, f0, p1, f1, ...), at least two"
    knots = sorted(zip(coefs[0::2], coefs[1::2]), key=lambda knot: knot[0])
    segment = 0
    while segment < len(knots) - 2 and P > knots[segment + 1][0]:
        segment += 1
    (p0, f0), (p1, f1) = knots[segment], knots[segment + 1]
    width = p1 - p0 if p1 != p0 else 1e-9
    return f0 + (P - p0) * (f1 - f0) / width


def cost_from_curve(P: float, coefs: Sequence[float]) -> float:
    """Three coefficients are a quadratic ``(a, b, c)``; more are piecewise knots."""
    return quadratic_cost(P, *coefs) if len(coefs) == 3 else piecewise_linear_cost(P, coefs)


def ramping_cost(P_prev: float, P_curr: float, up_cost: float = 0.0, down_cost: float = 0.0) -> float:
    """Per MW of increase at ``up_cost``, of decrease at ``down_cost``."""
    change = P_curr - P_prev
    return max(change, 0.0) * up_cost + max(-change, 0.0) * down_cost


def switching_cost(changed: bool, cost_per_change: float) -> float:
    return float(cost_per_change) if changed else 0.0


def tap_change_cost(delta_steps: int, cost_per_step: float) -> float:
    return abs(int(delta_steps)) * float(cost_per_step)


def energy_cost(P_mw: float, price_per_mwh: float, discount: float) -> float:
    """Import (P > 0) paid at the price, export credited at ``discount`` x the price."""
    return P_mw * price_per_mwh * (1.0 if P_mw > 0 else discount)


# ----------------------------------------------------------------------------- safety
def s_over_rating(P: float, Q: float, sn_mva: float | None) -> float:
    """Apparent power above the rating, as a fraction of it; 0 without a usable rating."""
    try:
        rating = float(sn_mva) if sn_mva is not None else math.nan
    except (TypeError, ValueError):
        return 0.0
    if not rating > 0.0:
        return 0.0
    return max(0.0, (math.hypot(P, Q) - rating) / rating)


def pf_penalty(P: float, Q: float, min_pf: float | None) -> float:
    """How far the power factor |P| / S falls below ``min_pf`` (0 at no load)."""
    S = math.hypot(P, Q)
    if min_pf is None or S <= 1e-9:
        return 0.0
    return max(0.0, float(min_pf) - abs(P / S))


def voltage_deviation(V_pu: float, vmin_pu: float = 0.95, vmax_pu: float = 1.05) -> float:
    """The earlier scaling of a voltage outside its band: below, as a fraction of ``vmin_pu``;
    above, as a fraction of the room up to 1.5 pu. (The env's safety counts the distance in pu,
    :func:`powergrid.core.safety.voltage_violation`.)"""
    if V_pu < vmin_pu:
        return (vmin_pu - V_pu) / max(1e-9, vmin_pu)
    if V_pu > vmax_pu:
        return (V_pu - vmax_pu) / max(1e-9, 1.5 - vmax_pu)
    return 0.0


def soc_bounds_penalty(soc: float, min_soc: float, max_soc: float) -> float:
    """Distance of the state of charge outside ``[min_soc, max_soc]``."""
    return soc - max_soc if soc > max_soc else (min_soc - soc if soc < min_soc else 0.0)


def loading_over_pct(loading_pct: float) -> float:
    """Loading above 100 %, as a fraction."""
    return max(0.0, (loading_pct - 100.0) / 100.0)


def rate_of_change_penalty(prev: float, curr: float, limit: float) -> float:
    """A change beyond ``limit``, as a fraction of it (0 for no limit)."""
    if limit <= 0:
        return 0.0
    return max(0.0, (abs(curr - prev) - limit) / limit)


@dataclass
class SafetySpec:
    """Weights of the terms :func:`total_safety` adds (0 leaves a term out)."""

    s_over_rating_w: float = 1.0
    pf_w: float = 1.0
    voltage_w: float = 0.0
    soc_w: float = 1.0
    loading_w: float = 1.0
    roc_w: float = 0.0


def total_safety(*, spec: SafetySpec, P: float = 0.0, Q: float = 0.0, sn_mva: float | None = None,
                 min_pf: float | None = None, V_pu: float | None = None, vmin_pu: float = 0.95, vmax_pu: float = 1.05,
                 soc: float | None = None, min_soc: float = 0.0, max_soc: float = 1.0, loading_pct: float | None = None,
                 prev: float | None = None, curr: float | None = None, limit: float = 0.0) -> float:
    """The weighted sum of the terms whose inputs are given."""
    total = 0.0
    if spec.s_over_rating_w:
        total += spec.s_over_rating_w * s_over_rating(P, Q, sn_mva)
    if spec.pf_w:
        total += spec.pf_w * pf_penalty(P, Q, min_pf)
    if spec.voltage_w and V_pu is not None:
        total += spec.voltage_w * voltage_deviation(V_pu, vmin_pu, vmax_pu)
    if spec.soc_w and soc is not None:
        total += spec.soc_w * soc_bounds_penalty(soc, min_soc, max_soc)
    if spec.loading_w and loading_pct is not None:
        total += spec.loading_w * loading_over_pct(loading_pct)
    if spec.roc_w and prev is not None and curr is not None:
        total += spec.roc_w * rate_of_change_penalty(prev, curr, limit)
    return total
