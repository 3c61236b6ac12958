"""The earlier ``powergrid.utils.cost`` (re-exports of :mod:`powergrid.compat.penalties`)."""
from powergrid.compat.penalties import (cost_from_curve, energy_cost, piecewise_linear_cost, polynomial_cost, quadratic_cost,
                                        ramping_cost, switching_cost, tap_change_cost)

__all__ = ["quadratic_cost", "polynomial_cost", "piecewise_linear_cost", "cost_from_curve", "ramping_cost", "switching_cost",
           "tap_change_cost", "energy_cost"]
