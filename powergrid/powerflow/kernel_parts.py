"""Kernel parts every power-flow kernel shares: a copy's bus injections from its element
injections, and its results in pandapower's terms (bus voltages in ``net.bus`` order, line and
transformer loading by current, transformer hv power). ``m`` is any model with the fields of
:class:`powergrid.powerflow.nr_model.Network`."""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["bus_injections", "write_results"]


@njit(cache=True, error_model="numpy")
def bus_injections(m, load_p, load_q, sgen_p, sgen_q, storage_p, S):
    """Sbus of one copy (pu): generation minus load; storage charging is load."""
    S[:] = 0.0
    for k in range(m.load_bus.size):
        S[m.load_bus[k]] -= complex(np.float64(load_p[k]), np.float64(load_q[k]))
    for k in range(m.sgen_bus.size):
        S[m.sgen_bus[k]] += complex(np.float64(sgen_p[k]), np.float64(sgen_q[k]))
    for k in range(m.storage_bus.size):
        S[m.storage_bus[k]] -= np.float64(storage_p[k])
    for i in range(S.size):
        S[i] /= m.base_mva


@njit(cache=True, inline="always")
def _abs2(z):
    return z.real * z.real + z.imag * z.imag


@njit(cache=True, error_model="numpy")
def write_results(m, V, tap_factor, vm, va, line_loading, trafo_loading, trafo_p_hv, angles):
    """Bus results in net.bus row order (angles only if asked: atan2 is a third of the cost);
    branch loadings and transformer hv power."""
    for r in range(m.bus_order.size):
        v = V[m.bus_order[r]]
        vm[r] = np.sqrt(v.real * v.real + v.imag * v.imag)
        if angles:
            va[r] = np.arctan2(v.imag, v.real) * (180.0 / np.pi)
    for k in range(m.line_branch.size):
        br = m.line_branch[k]
        f, t = m.br_from[br], m.br_to[br]
        i_f = _abs2(m.y_ff[br] * V[f] + m.y_ft[br] * V[t])
        i_t = _abs2(m.y_tf[br] * V[f] + m.y_tt[br] * V[t])
        line_loading[k] = np.sqrt(max(i_f * m.line_scale[k, 0] ** 2, i_t * m.line_scale[k, 1] ** 2))
    for k in range(m.trafo_branch.size):
        br = m.trafo_branch[k]
        f, t = m.br_from[br], m.br_to[br]
        a = tap_factor[k]
        I_f = m.y_ff[br] / (a * a) * V[f] + m.y_ft[br] / a * V[t]
        I_t = m.y_tf[br] / a * V[f] + m.y_tt[br] * V[t]
        trafo_loading[k] = max(abs(I_f) * m.trafo_scale[k, 0], abs(I_t) * m.trafo_scale[k, 1])
        trafo_p_hv[k] = (V[f] * np.conj(I_f)).real * m.base_mva
