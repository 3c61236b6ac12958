"""Batched AC power flow: one Numba Newton-Raphson kernel solves many copies of one network.

The model (:mod:`powergrid.powerflow.nr_model`) is pandapower's own; this module is the kernel:
per copy it takes its own injections, tap ratios and shunt steps, starts from its own last
voltages, and reports its own convergence. See the model module for the method.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from powergrid.powerflow.kernel_parts import bus_injections, write_results
from powergrid.powerflow.nr_model import LANES, NRModel, build_model

__all__ = ["NRModel", "build_model", "solve_batch", "solve_serial"]

# Reordering and contraction for the lane loops; NaN and inf stay honoured, since a diverging
# copy is detected by them.
FAST = {"nsz", "arcp", "contract", "reassoc"}
#: The most blocks of copies the kernel spreads over threads: each allocates its work arrays
#: (about 3 us), and the thread count cannot be read in a kernel Numba caches.
BLOCKS = 32


# ----------------------------------------------------------------------------- kernel
@njit(cache=True, error_model="numpy")
def _admittance(m, tap_factor, shunt_q, Y):
    """Ybus values of one copy: fixed part, transformers at this copy's taps, its shunt steps."""
    Y[:] = m.y_fixed
    for k in range(m.trafo_branch.size):
        br = m.trafo_branch[k]
        a = tap_factor[k]
        Y[m.at_ff[br]] += m.y_ff[br] / (a * a)
        Y[m.at_ft[br]] += m.y_ft[br] / a
        Y[m.at_tf[br]] += m.y_tf[br] / a
        Y[m.at_tt[br]] += m.y_tt[br]
    for k in range(m.shunt_bus.size):
        Y[m.diag[m.shunt_bus[k]]] += -1j * shunt_q[k] / m.base_mva


@njit(cache=True, inline="always")
def _worse(worst, d):
    """The larger mismatch, where NaN counts as the largest and stays: ``max`` would pass over a
    NaN injection and let its copy count as converged."""
    return d if d > worst or d != d else worst


@njit(cache=True, error_model="numpy", fastmath=FAST)
def _mismatch(m, Yr, Yi, Vr, Vi, Sr, Si, Ir, Ii, F, worst, lo, hi):
    """I = Ybus V. F = I - conj(S / V) at the PQ buses (current mismatch, what Newton zeroes);
    ``worst`` gets each lane's largest power mismatch |V conj(I) - S|, the convergence test of
    runpp and lightsim2grid. Lanes ``lo`` to ``hi - 1``: all of them, or one just loaded."""
    for i in range(Vr.shape[0]):
        for c in range(lo, hi):
            Ir[i, c] = 0.0
            Ii[i, c] = 0.0
        for e in range(m.y_indptr[i], m.y_indptr[i + 1]):
            j = m.y_indices[e]
            for c in range(lo, hi):
                Ir[i, c] += Yr[e, c] * Vr[j, c] - Yi[e, c] * Vi[j, c]
                Ii[i, c] += Yr[e, c] * Vi[j, c] + Yi[e, c] * Vr[j, c]
    for c in range(lo, hi):
        worst[c] = 0.0
    for p in range(m.pq.size):
        i = m.pq[p]
        for c in range(lo, hi):
            vr, vi = Vr[i, c], Vi[i, c]
            dp = vr * Ir[i, c] + vi * Ii[i, c] - Sr[i, c]  # V conj(I) - S
            dq = vi * Ir[i, c] - vr * Ii[i, c] - Si[i, c]
            worst[c] = _worse(_worse(worst[c], abs(dp)), abs(dq))
            scale = 1.0 / (vr * vr + vi * vi)  # I - conj(S / V) = conj(dS) V / |V|²
            F[p, 0, c] = (dp * vr + dq * vi) * scale
            F[p, 1, c] = (dp * vi - dq * vr) * scale


@njit(cache=True, error_model="numpy", fastmath=FAST)
def _jacobian(m, Yr, Yi, Vr, Vi, Sr, Si, J, lanes):
    """d(I - conj(S/V)) / d(e, f) in 2×2 blocks, V = e + jf: Ybus's [[G, -B], [B, G]] off the
    diagonal, and on it also the constant-power load term (the only part that moves)."""
    J[:] = 0.0
    for p in range(m.pq.size):
        i = m.pq[p]
        for e in range(m.y_indptr[i], m.y_indptr[i + 1]):
            s = m.j_slot[e]
            if s >= 0:
                for c in range(len(lanes)):
                    J[s, 0, c] = Yr[e, c]
                    J[s, 1, c] = -Yi[e, c]
                    J[s, 2, c] = Yi[e, c]
                    J[s, 3, c] = Yr[e, c]
        for c in range(len(lanes)):
            er, fi = Vr[i, c], Vi[i, c]
            P, Q = Sr[i, c], Si[i, c]
            inv = 1.0 / (er * er + fi * fi)
            ire = (P * er + Q * fi) * inv
            iim = (P * fi - Q * er) * inv
            J[p, 0, c] -= (P - 2.0 * er * ire) * inv
            J[p, 1, c] -= (Q - 2.0 * fi * ire) * inv
            J[p, 2, c] -= (-Q - 2.0 * er * iim) * inv
            J[p, 3, c] -= (P - 2.0 * fi * iim) * inv


@njit(cache=True, error_model="numpy", fastmath=FAST)
def _factor_and_solve(m, J, F, x, Dinv, singular, lanes):
    """Block LU of J in place, then x = -J⁻¹ F, lane by lane in lockstep. Blocks are
    ``J[s, :, c] = (a, b, c, d)`` for [[a, b], [c, d]]; a lane with a singular pivot is flagged."""
    n = m.pq.size
    for k in range(n):
        for c in range(len(lanes)):
            a, b, cc, d = J[k, 0, c], J[k, 1, c], J[k, 2, c], J[k, 3, c]
            det = a * d - b * cc
            ok = det != 0.0 and np.isfinite(det)
            inv = 1.0 / det if ok else 0.0
            singular[c] |= not ok
            Dinv[k, 0, c] = d * inv
            Dinv[k, 1, c] = -b * inv
            Dinv[k, 2, c] = -cc * inv
            Dinv[k, 3, c] = a * inv
        for e in range(m.low_ptr[k], m.low_ptr[k + 1]):  # L[i, k] = J[i, k] D⁻¹
            s = m.low_slot[e]
            for c in range(len(lanes)):
                l0, l1, l2, l3 = J[s, 0, c], J[s, 1, c], J[s, 2, c], J[s, 3, c]
                p0, p1, p2, p3 = Dinv[k, 0, c], Dinv[k, 1, c], Dinv[k, 2, c], Dinv[k, 3, c]
                J[s, 0, c] = l0 * p0 + l1 * p2
                J[s, 1, c] = l0 * p1 + l1 * p3
                J[s, 2, c] = l2 * p0 + l3 * p2
                J[s, 3, c] = l2 * p1 + l3 * p3
        for o in range(m.op_ptr[k], m.op_ptr[k + 1]):  # J[i, j] -= L[i, k] U[k, j]
            ik, kj, ij = m.op_ik[o], m.op_kj[o], m.op_ij[o]
            for c in range(len(lanes)):
                l0, l1, l2, l3 = J[ik, 0, c], J[ik, 1, c], J[ik, 2, c], J[ik, 3, c]
                u0, u1, u2, u3 = J[kj, 0, c], J[kj, 1, c], J[kj, 2, c], J[kj, 3, c]
                J[ij, 0, c] -= l0 * u0 + l1 * u2
                J[ij, 1, c] -= l0 * u1 + l1 * u3
                J[ij, 2, c] -= l2 * u0 + l3 * u2
                J[ij, 3, c] -= l2 * u1 + l3 * u3
    for k in range(n):
        for c in range(len(lanes)):
            x[k, 0, c] = -F[k, 0, c]
            x[k, 1, c] = -F[k, 1, c]
    for k in range(n):  # forward: y_i -= L[i, k] y_k
        for e in range(m.low_ptr[k], m.low_ptr[k + 1]):
            i, s = m.low_row[e], m.low_slot[e]
            for c in range(len(lanes)):
                y0, y1 = x[k, 0, c], x[k, 1, c]
                x[i, 0, c] -= J[s, 0, c] * y0 + J[s, 1, c] * y1
                x[i, 1, c] -= J[s, 2, c] * y0 + J[s, 3, c] * y1
    for k in range(n - 1, -1, -1):  # backward: x_k = D⁻¹ (y_k - Σ U[k, i] x_i)
        for e in range(m.low_ptr[k], m.low_ptr[k + 1]):
            i, s = m.low_row[e], m.up_slot[e]
            for c in range(len(lanes)):
                x[k, 0, c] -= J[s, 0, c] * x[i, 0, c] + J[s, 1, c] * x[i, 1, c]
                x[k, 1, c] -= J[s, 2, c] * x[i, 0, c] + J[s, 3, c] * x[i, 1, c]
        for c in range(len(lanes)):
            r0, r1 = x[k, 0, c], x[k, 1, c]
            x[k, 0, c] = Dinv[k, 0, c] * r0 + Dinv[k, 1, c] * r1
            x[k, 1, c] = Dinv[k, 2, c] * r0 + Dinv[k, 3, c] * r1


#: Columns of the regulators' table the kernel takes (one row per regulator; the batched
#: backend builds it): the set point and band (pu), the step (pu per tap), the direction,
#: the tap range, and what turns a tap position into a ratio factor (neutral tap, percent per
#: step, 1 where the tap is on the low-voltage side, the factor the model was built at).
SETPOINT, BAND, STEP, SIGN, TAP_MIN, TAP_MAX, NEUTRAL, STEP_PERCENT, LV_SIDE, FACTOR0 = range(10)


@njit(cache=True, error_model="numpy")
def _load_lane(m, c, b, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, Y, S, Yr, Yi, Sr, Si, Vr, Vi):
    """Copy ``b`` into lane ``c``: its admittances, injections and warm start."""
    _admittance(m, tap_factor[b], shunt_q[b], Y)
    bus_injections(m, load_p[b], load_q[b], sgen_p[b], sgen_q[b], storage_p[b], S)
    V[b, m.slack] = m.v_slack
    for e in range(Y.size):
        Yr[e, c], Yi[e, c] = Y[e].real, Y[e].imag
    for i in range(S.size):
        Sr[i, c], Si[i, c] = S[i].real, S[i].imag
        Vr[i, c], Vi[i, c] = V[b, i].real, V[b, i].imag


@njit(cache=True, error_model="numpy")
def _regulators_step(reg_trafo, reg_bus, reg, Vr, Vi, c, taps, tap_factor):
    """The regulators' controllers after a converged solve of lane ``c``: each whose bus left
    its band steps its tap (``taps``, this copy's) by as many steps as bring the bus back
    (clipped to its range), and its ratio factor follows. The rule of
    :meth:`powergrid.core.regulation.Regulation.steps`, per regulator. True if any moved."""
    moved = False
    for r in range(reg_trafo.size):
        k, i = reg_trafo[r], reg_bus[r]
        error = np.sqrt(Vr[i, c] * Vr[i, c] + Vi[i, c] * Vi[i, c]) - reg[r, SETPOINT]
        move = np.rint(error / reg[r, STEP]) * reg[r, SIGN] if abs(error) > reg[r, BAND] else 0.0
        tap = min(max(taps[k] + move, reg[r, TAP_MIN]), reg[r, TAP_MAX])
        if tap != taps[k]:
            moved = True
            taps[k] = tap
            factor = 1.0 + (tap - reg[r, NEUTRAL]) * reg[r, STEP_PERCENT] / 100.0
            tap_factor[k] = (1.0 / factor if reg[r, LV_SIDE] == 1.0 else factor) / reg[r, FACTOR0]
    return moved


@njit(cache=True, error_model="numpy", parallel=True)
def solve_batch(m, active, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, tol, max_iter,
                converged, iterations, vm, va, line_loading, trafo_loading, trafo_p_hv, angles,
                trafo_tap, reg_trafo, reg_bus, reg, max_rounds, rounds, lanes):
    """Solve every copy ``b`` with ``active[b]``, from its voltages ``V[b]`` (internal bus order,
    overwritten with the solution); bus results come out in ``net.bus`` row order. A copy that
    does not converge keeps its old results and leaves ``V[b]`` undefined.

    With regulators (``reg_trafo``: their transformer rows, ``reg_bus``: the internal buses
    they regulate, ``reg``: their table, columns ``SETPOINT``...), each converged copy's
    controllers step (:func:`_regulators_step`, writing ``trafo_tap[b]``) and the copy is
    solved again from where it stands, until no tap moves or it has been solved again
    ``max_rounds`` times (``rounds[b]`` counts them, from the value it comes in with).
    ``iterations[b]`` counts its Newton steps over all its solves.

    Copies go through Newton ``len(lanes)`` at a time in lockstep (``lanes`` is a tuple so that
    its length is a constant to the compiler, one compiled kernel per length: ``LANES`` for a
    batch, one for a single copy, which would otherwise pay for spare lanes; real and imaginary
    parts in separate arrays, the lane innermost), so independent copies overlap each other's dependency
    chains in the LU (measured: about 25 % less time per iteration than one copy at a time). A
    lane whose copy is done (converged with its taps settled, or failed) takes the next copy
    at once, so lanes do not idle while others still iterate. The copies are dealt into
    ``BLOCKS`` blocks that spread over Numba's threads (``numba.prange``), each block with its
    own work arrays."""
    rows = np.flatnonzero(active)
    blocks = max(1, min(BLOCKS, (rows.size + len(lanes) - 1) // len(lanes)))
    for t in prange(blocks):
        _solve_block(m, rows, t, blocks, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, tol, max_iter,
                     converged, iterations, vm, va, line_loading, trafo_loading, trafo_p_hv, angles, trafo_tap, reg_trafo,
                     reg_bus, reg, max_rounds, rounds, lanes)


@njit(cache=True, error_model="numpy")
def solve_serial(m, active, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, tol, max_iter,
                 converged, iterations, vm, va, line_loading, trafo_loading, trafo_p_hv, angles,
                 trafo_tap, reg_trafo, reg_bus, reg, max_rounds, rounds, lanes):
    """:func:`solve_batch` on the calling thread, for a few copies (the single env's one): no
    threads to start at every call, and none to compile (Numba takes about 15 s more for the
    parallel kernel)."""
    _solve_block(m, np.flatnonzero(active), 0, 1, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, tol,
                 max_iter, converged, iterations, vm, va, line_loading, trafo_loading, trafo_p_hv, angles, trafo_tap,
                 reg_trafo, reg_bus, reg, max_rounds, rounds, lanes)


@njit(cache=True, error_model="numpy")
def _solve_block(m, rows, t, blocks, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, tol, max_iter,
                 converged, iterations, vm, va, line_loading, trafo_loading, trafo_p_hv, angles, trafo_tap, reg_trafo,
                 reg_bus, reg, max_rounds, rounds, lanes):
    """Block ``t`` of :func:`solve_batch`: the copies ``rows[t::blocks]``, through the lanes."""
    L = len(lanes)
    nb, n, nnz = V.shape[1], m.pq.size, m.y_indices.size
    Y = np.empty(nnz, np.complex128)
    S = np.empty(nb, np.complex128)
    Yr, Yi = np.zeros((nnz, L)), np.zeros((nnz, L))
    Sr, Si = np.zeros((nb, L)), np.zeros((nb, L))
    Vr, Vi = np.ones((nb, L)), np.zeros((nb, L))
    Ir, Ii = np.empty((nb, L)), np.empty((nb, L))
    J = np.empty((m.n_slots, 4, L))
    F = np.empty((n, 2, L))
    x = np.empty((n, 2, L))
    Dinv = np.empty((n, 4, L))
    worst = np.empty(L)
    live = np.zeros(L)  # 1.0 while the lane holds a copy being solved
    singular = np.zeros(L, np.bool_)
    lane_copy = np.full(L, -1, np.int64)
    steps = np.zeros(L, np.int64)  # Newton steps of the lane's solve under way
    queue = np.int64(t)  # this block's copies: rows[t], rows[t + blocks], ... (prange may hand t over unsigned)
    for c in range(L):
        if queue < rows.size:
            b = rows[queue]
            queue += blocks
            _load_lane(m, c, b, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, Y, S, Yr, Yi, Sr, Si, Vr, Vi)
            lane_copy[c], live[c], converged[b], iterations[b] = b, 1.0, False, 0
    _mismatch(m, Yr, Yi, Vr, Vi, Sr, Si, Ir, Ii, F, worst, 0, L)
    while True:
        for c in range(L):  # settle each lane whose copy is done, refilling it, until it is solving
            while live[c] == 1.0:
                b = lane_copy[c]
                ok = worst[c] < tol
                if ok and rounds[b] < max_rounds and _regulators_step(reg_trafo, reg_bus, reg, Vr, Vi, c, trafo_tap[b], tap_factor[b]):
                    rounds[b] += 1
                    steps[c] = 0
                    _admittance(m, tap_factor[b], shunt_q[b], Y)
                    for e in range(nnz):
                        Yr[e, c], Yi[e, c] = Y[e].real, Y[e].imag
                elif ok or singular[c] or not np.isfinite(worst[c]) or steps[c] >= max_iter:
                    converged[b] = ok
                    for i in range(nb):
                        V[b, i] = complex(Vr[i, c], Vi[i, c])
                    if ok:
                        write_results(m, V[b], tap_factor[b], vm[b], va[b], line_loading[b], trafo_loading[b], trafo_p_hv[b], angles)
                    live[c], singular[c], steps[c] = 0.0, False, 0
                    if queue >= rows.size:
                        break
                    b = rows[queue]
                    queue += blocks
                    _load_lane(m, c, b, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, Y, S, Yr, Yi, Sr, Si, Vr, Vi)
                    lane_copy[c], live[c], converged[b], iterations[b] = b, 1.0, False, 0
                else:
                    break
                _mismatch(m, Yr, Yi, Vr, Vi, Sr, Si, Ir, Ii, F, worst, c, c + 1)
        if live.max() == 0.0:
            break
        _jacobian(m, Yr, Yi, Vr, Vi, Sr, Si, J, lanes)
        _factor_and_solve(m, J, F, x, Dinv, singular, lanes)
        for p in range(n):
            i = m.pq[p]
            for c in range(L):
                Vr[i, c] += live[c] * x[p, 0, c]
                Vi[i, c] += live[c] * x[p, 1, c]
        for c in range(L):
            if live[c] == 1.0:
                steps[c] += 1
                iterations[lane_copy[c]] += 1
        _mismatch(m, Yr, Yi, Vr, Vi, Sr, Si, Ir, Ii, F, worst, 0, L)
