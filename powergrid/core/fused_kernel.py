"""The fused batched step's kernel (see :mod:`powergrid.core.fused` for what it does and for
the plan ``p`` and state ``x`` it takes): the device formulas of
:mod:`powergrid.agents.formulas` compiled for one device's numbers, around the Newton kernel."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from powergrid.agents.devices import exchange_cost
from powergrid.agents.formulas import generator_cost, generator_p, generator_q, storage_cost, storage_power, storage_soc, storage_violation
from powergrid.core.safety import overload, voltage_violation
from powergrid.powerflow.newton import BLOCKS, solve_batch

__all__ = ["fused_step", "conclude"]

# the formulas, compiled for one device's numbers (the fleets' ufuncs are these same functions)
_generator_p, _generator_q, _generator_cost = njit(generator_p), njit(generator_q), njit(generator_cost)
_storage_power, _storage_soc, _storage_cost = njit(storage_power), njit(storage_soc), njit(storage_cost)
_storage_violation, _exchange_cost = njit(storage_violation), njit(exchange_cost)
_voltage_violation, _overload = njit(voltage_violation), njit(overload)  # and the network's limits


@njit(cache=True, error_model="numpy")
def _prepare(p, x, b, profiles, raw, flat, clipped, delivered, limited, load_p, load_q, sgen_p, sgen_q, storage_p,
             shunt_q, trafo_tap, tap_factor, rounds):
    """Steps 1-3 for copy ``b``."""
    x.t[b] += 1
    hour = x.hour[b] = x.start_hour[b] + x.t[b]
    column = profiles[hour]
    x.price[b] = column[p.price_series]
    for k in range(p.load_series.size):
        x.load_p[b, k] = p.load_base_p[k] * column[p.load_series[k]]
        x.load_q[b, k] = p.load_base_q[k] * column[p.load_series[k]]
    for k in range(p.r_series.size):
        x.r_p[b, k] = p.r_p_max[k] * column[p.r_series[k]]
        x.sgen_p[b, p.r_element[k]] = x.r_p[b, k]
    for k in range(p.g_series.size):
        if p.g_series[k] >= 0:
            x.g_p_cap[b, k] = p.g_p_max[k] * column[p.g_series[k]]
    for k in range(p.n_agents):
        clipped[b, k] = limited[b, k] = False
    for j in range(p.low.size):
        value = raw[b, j]
        flat[b, j] = delivered[b, j] = min(max(value, p.low[j]), p.high[j])
        if value < p.flag_low[j] or value > p.flag_high[j]:
            clipped[b, p.entry_agent[j]] = True
    for k in range(p.g_pos_p.size):
        p_set, q_set = flat[b, p.g_pos_p[k]], flat[b, p.g_pos_q[k]]
        x.g_p_set[b, k], x.g_q_set[b, k] = p_set, q_set
        pg = x.g_p[b, k] = _generator_p(p_set, p.g_p_min[k], x.g_p_cap[b, k], p.g_s_max[k])
        x.g_q[b, k] = _generator_q(q_set, pg, p.g_q_min[k], p.g_q_max[k], p.g_s_max[k], p.g_q_slope[k], p.g_q_idle[k])
        delivered[b, p.g_pos_p[k]], delivered[b, p.g_pos_q[k]] = x.g_p[b, k], x.g_q[b, k]
        e = p.g_element[k]
        x.sgen_p[b, e], x.sgen_q[b, e] = x.g_p[b, k], x.g_q[b, k]
    for k in range(p.s_pos.size):
        command, soc = flat[b, p.s_pos[k]], x.s_soc[b, k]
        ps = _storage_power(command, soc, p.s_capacity[k], p.s_eff_ch[k], p.s_eff_dis[k], p.dt_h, p.s_soc_min[k], p.s_soc_max[k])
        x.s_p_set[b, k], x.s_p[b, k] = command, ps
        x.s_soc[b, k] = _storage_soc(soc, ps, p.s_capacity[k], p.s_eff_ch[k], p.s_eff_dis[k], p.dt_h, p.s_soc_min[k], p.s_soc_max[k])
        delivered[b, p.s_pos[k]] = ps
        x.storage_p[b, p.s_element[k]] = ps
    for j in range(p.low.size):
        if delivered[b, j] != flat[b, j]:
            limited[b, p.entry_agent[j]] = True
    for i in range(p.d_pos.size):
        setting = x.discrete[b, i] = p.d_offset[i] + flat[b, p.d_pos[i]]
        if p.d_is_tap[i]:
            trafo_tap[b, p.d_element[i]] = setting
        else:
            shunt_q[b, p.d_element[i]] = -p.d_q_step[i] * setting
    for k in range(tap_factor.shape[1]):
        factor = 1.0 + (trafo_tap[b, k] - p.tap_neutral[k]) * p.tap_step[k] / 100.0
        tap_factor[b, k] = (1.0 / factor if p.tap_lv[k] == 1.0 else factor) / p.tap_factor0[k]
    load_p[b, :] = x.load_p[b, :]  # the power flow's arrays (float32 where the fallback is)
    load_q[b, :] = x.load_q[b, :]
    sgen_p[b, :] = x.sgen_p[b, :]
    sgen_q[b, :] = x.sgen_q[b, :]
    storage_p[b, :] = x.storage_p[b, :]
    rounds[b] = 0


@njit(cache=True, error_model="numpy")
def _conclude_copy(p, x, b, converged, vm_pu, line_loading, trafo_loading, trafo_p_hv, cost, safety, obs, source, sums):
    """Step 5 for copy ``b``: its results kept if converged, its costs, safety and observation
    (``source`` and ``sums``: work arrays)."""
    if converged[b]:
        x.vm[b, :] = vm_pu[b, :]
        x.line[b, :] = line_loading[b, :]
        x.trafo[b, :] = trafo_loading[b, :]
        for k in range(p.n_agents):
            x.p_import[b, k] = trafo_p_hv[b, p.mg_trafo[k]]
    n = p.n_agents
    sums[:] = 0.0
    generators, storage, violation, buses, lines, loads = sums  # per agent; index n: the operator's
    for k in range(p.g_owner.size):
        generators[p.g_owner[k]] += _generator_cost(x.g_p[b, k], p.g_cost_a[k], p.g_cost_b[k], p.g_cost_c[k], p.dt_h)
    for k in range(p.s_owner.size):
        storage[p.s_owner[k]] += _storage_cost(x.s_p[b, k], p.s_cost[k], p.dt_h)
        violation[p.s_owner[k]] += _storage_violation(x.s_soc[b, k], p.s_soc_min[k], p.s_soc_max[k])
    for j in range(p.mg_bus.size):
        buses[p.mg_bus_owner[j]] += _voltage_violation(x.vm[b, p.mg_bus[j]])
    for j in range(p.mg_line.size):
        lines[p.mg_line_owner[j]] += _overload(x.line[b, p.mg_line[j]])
    for k in range(n):  # the step core's sums, in its order
        grid = _exchange_cost(x.p_import[b, k], x.price[b], p.sell_price_ratio, p.dt_h)
        cost[b, k] = (generators[k] + storage[k]) + grid
        safety[b, k] = buses[k] + lines[k] + _overload(x.trafo[b, p.mg_trafo[k]]) + violation[k]
    _observe(p, x, b, source, loads)
    for j in range(p.obs_index.size):
        obs[b, j] = source[p.obs_index[j]] * p.obs_scale[j]


@njit(cache=True, error_model="numpy")
def _observe(p, x, b, source, loads):
    """Copy ``b``'s observation source vector (``layout.OBSERVATION_SOURCE``); ``loads``: zeros
    to sum each agent's loads in."""
    n = p.n_agents
    for k in range(x.g_p.shape[1]):
        source[p.at_g_p + k], source[p.at_g_q + k] = x.g_p[b, k], x.g_q[b, k]
    for k in range(x.s_p.shape[1]):
        source[p.at_s_p + k], source[p.at_s_soc + k] = x.s_p[b, k], x.s_soc[b, k]
    for k in range(x.r_p.shape[1]):
        source[p.at_r_p + k] = x.r_p[b, k]
    for k in range(p.load_owner.size):
        loads[p.load_owner[k]] += x.load_p[b, k]
    angle = (2.0 * np.pi / 24.0) * (x.hour[b] % 24)
    for k in range(n):
        source[p.at_load_p + k] = loads[k]
        source[p.at_p_import + k] = x.p_import[b, k]
    source[p.at_price], source[p.at_price + 1], source[p.at_price + 2] = x.price[b], np.sin(angle), np.cos(angle)
    for i in range(x.vm.shape[1]):
        source[p.at_vm + i] = x.vm[b, i]
    for i in range(x.discrete.shape[1]):
        source[p.at_discrete + i] = x.discrete[b, i]


@njit(cache=True, error_model="numpy", parallel=True)
def fused_step(p, x, profiles, raw, flat, clipped, delivered, limited, cost, safety, obs,
               m, active, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, tol, max_iter, converged,
               iterations, vm_pu, va, line_loading, trafo_loading, trafo_p_hv, angles, trafo_tap, reg_trafo, reg_bus, reg,
               max_rounds, rounds, lanes):
    """One step of every copy (``p``: the plan, ``x``: the state; ``raw``: the checked actions;
    ``flat`` to ``obs``: this step's outputs; ``m`` on: the Newton kernel's arguments, as
    :meth:`BatchedNewtonBackend.kernel_arguments` gives them, for the copies ``active`` (all)).
    Every stage spreads its copies over Numba's threads: steps 1-3 copy by copy, the power flow
    and step 5 in the Newton kernel's blocks. A copy left unconverged has step 5 still to run
    (:func:`conclude`, after the fallback)."""
    for b in prange(raw.shape[0]):
        _prepare(p, x, b, profiles, raw, flat, clipped, delivered, limited, load_p, load_q, sgen_p, sgen_q, storage_p,
                 shunt_q, trafo_tap, tap_factor, rounds)
    solve_batch(m, active, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, tol, max_iter, converged,
                iterations, vm_pu, va, line_loading, trafo_loading, trafo_p_hv, angles, trafo_tap, reg_trafo, reg_bus, reg,
                max_rounds, rounds, lanes)
    rows = np.flatnonzero(converged)
    blocks = min(BLOCKS, rows.size)
    for t in prange(blocks):
        conclude(p, x, np.ascontiguousarray(rows[t::blocks]), converged, vm_pu, line_loading, trafo_loading, trafo_p_hv,
                 cost, safety, obs)


@njit(cache=True, error_model="numpy")
def conclude(p, x, rows, converged, vm_pu, line_loading, trafo_loading, trafo_p_hv, cost, safety, obs):
    """Step 5 for the copies in ``rows``."""
    source, sums = np.empty(p.source_size), np.empty((6, p.n_agents + 1))
    for b in rows:
        _conclude_copy(p, x, b, converged, vm_pu, line_loading, trafo_loading, trafo_p_hv, cost, safety, obs, source, sums)
