"""The earlier ``powergrid.utils.safety`` (re-exports of :mod:`powergrid.compat.penalties`)."""
from powergrid.compat.penalties import (SafetySpec, loading_over_pct, pf_penalty, rate_of_change_penalty, s_over_rating,
                                        soc_bounds_penalty, total_safety, voltage_deviation)

__all__ = ["s_over_rating", "pf_penalty", "voltage_deviation", "soc_bounds_penalty", "loading_over_pct",
           "rate_of_change_penalty", "SafetySpec", "total_safety"]
