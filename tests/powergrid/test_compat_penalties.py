"""The earlier powergrid.utils.cost and .safety paths: their definitions, kept exactly."""
import math

import pytest

from powergrid.utils.cost import cost_from_curve, energy_cost, piecewise_linear_cost, polynomial_cost, ramping_cost
from powergrid.utils.safety import SafetySpec, loading_over_pct, pf_penalty, s_over_rating, total_safety, voltage_deviation


def test_costs():
    assert polynomial_cost(2.0, [1.0, 2.0, 3.0]) == 1.0 + 4.0 + 12.0
    assert cost_from_curve(2.0, [1.0, 0.0, 5.0]) == 9.0  # three numbers: a quadratic
    knots = [2.0, 20.0, 0.0, 0.0, 1.0, 5.0]  # unsorted knots are sorted by power
    assert piecewise_linear_cost(1.5, knots) == pytest.approx(12.5)
    assert piecewise_linear_cost(3.0, knots) == pytest.approx(35.0)  # the last segment continued
    assert piecewise_linear_cost(-1.0, knots) == pytest.approx(-5.0)
    with pytest.raises(AssertionError, match="at least two"):
        piecewise_linear_cost(1.0, [0.0, 0.0])
    assert ramping_cost(1.0, 3.0, up_cost=2.0, down_cost=9.0) == 4.0 and ramping_cost(3.0, 1.0, 2.0, 9.0) == 18.0
    assert energy_cost(2.0, 50.0, 0.5) == 100.0 and energy_cost(-2.0, 50.0, 0.5) == -50.0


def test_safety_terms():
    assert s_over_rating(3.0, 4.0, 4.0) == pytest.approx(0.25) and s_over_rating(3.0, 4.0, math.nan) == 0.0
    assert s_over_rating(3.0, 4.0, "not a rating") == 0.0
    assert pf_penalty(0.0, 1.0, 0.9) == pytest.approx(0.9) and pf_penalty(0.0, 0.0, 0.9) == 0.0
    assert voltage_deviation(0.9) == pytest.approx(0.05 / 0.95) and voltage_deviation(1.15) == pytest.approx(0.1 / 0.45)
    assert loading_over_pct(120.0) == 0.2 and loading_over_pct(80.0) == 0.0
    spec = SafetySpec(voltage_w=2.0)
    assert total_safety(spec=spec, V_pu=0.9, soc=1.2, max_soc=1.0) == pytest.approx(2 * 0.05 / 0.95 + 0.2)
