"""Batched AC power flow: one Numba Newton-Raphson kernel solves many copies of one network.

The model is pandapower's own (its ``ppc``: branch admittances, bus shunts), so the equations
are the ones ``runpp`` and lightsim2grid solve, with the same test: every power mismatch below
``tol``. The slack is the external grid; every other bus is PQ. Newton runs on the current
mismatch ``Ybus V - conj(S / V)`` in rectangular coordinates (V = e + jf): no trigonometry,
and the Jacobian is Ybus itself plus a 2×2 term per bus on the diagonal. It is a sparse matrix
of 2×2 blocks with the pattern of Ybus. It is factorized by block LU in a fixed elimination order (minimum degree,
found once; a radial feeder has no fill-in), with every update ``J[i,j] -= L[i,k] U[k,j]``
listed in advance: the numeric factorization is a flat loop of 2×2 products.

Per copy the kernel takes its own injections, tap ratios and shunt steps, starts from its own
last voltages, and reports its own convergence. Branch and transformer results follow
pandapower's definitions (loading by current; transformers at the larger of hv and lv).
"""
from __future__ import annotations

import copy
import warnings
from typing import NamedTuple

import numpy as np
import pandapower as pp
from numba import njit

__all__ = ["NRModel", "build_model", "solve_batch"]

LANES = 4  # copies in lockstep (8 measured no faster)
# Reordering and contraction for the lane loops; NaN and inf stay honoured, since a diverging
# copy is detected by them.
FAST = {"nsz", "arcp", "contract", "reassoc"}


class NRModel(NamedTuple):
    """Everything the kernel needs about the network, as flat arrays (internal bus order)."""

    base_mva: float
    y_indptr: np.ndarray      # CSR pattern of Ybus over all buses
    y_indices: np.ndarray
    y_fixed: np.ndarray       # Ybus values without transformers and switchable shunts
    diag: np.ndarray          # position of Y[i, i] in the CSR values
    br_from: np.ndarray       # per branch (lines, then transformers, pandapower's order)
    br_to: np.ndarray
    y_ff: np.ndarray          # branch admittances at the construction taps
    y_ft: np.ndarray
    y_tf: np.ndarray
    y_tt: np.ndarray
    at_ff: np.ndarray         # positions of the four branch terms in the CSR values
    at_ft: np.ndarray
    at_tf: np.ndarray
    at_tt: np.ndarray
    line_branch: np.ndarray   # branch of each net.line row
    trafo_branch: np.ndarray  # branch of each net.trafo row
    line_scale: np.ndarray    # |I| (pu) -> loading % per line end, from and to
    trafo_scale: np.ndarray   # |I| (pu) -> loading % per transformer end, hv and lv
    load_bus: np.ndarray
    sgen_bus: np.ndarray
    storage_bus: np.ndarray
    shunt_bus: np.ndarray
    slack: int
    v_slack: complex
    pq: np.ndarray            # bus of each unknown, in elimination order
    j_slot: np.ndarray        # Jacobian block of each Ybus entry (-1: slack row or column)
    n_slots: int
    low_ptr: np.ndarray       # per pivot k: rows i > k with a block (i, k)
    low_row: np.ndarray
    low_slot: np.ndarray
    up_slot: np.ndarray       # per pivot k: the block (k, i) for the same i (symmetric pattern)
    op_ptr: np.ndarray        # per pivot k: updates J[ij] -= J[ik] @ J[kj]
    op_ij: np.ndarray
    op_ik: np.ndarray
    op_kj: np.ndarray
    bus_order: np.ndarray     # internal bus of each net.bus row


def _ppc_of(net: pp.pandapowerNet):
    """pandapower's internal model of ``net`` (with switchable shunts at zero), and its lookups."""
    work = copy.deepcopy(net)
    if len(work.shunt):
        work.shunt["q_mvar"] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pp.runpp(work, calculate_voltage_angles=True, numba=False)
        except pp.LoadflowNotConverged:
            pass  # the model is built before the solve; only its arrays are used
    return work._ppc, work._pd2ppc_lookups


def _elimination_order(neighbours: list[set[int]]) -> tuple[list[int], list[list[int]]]:
    """Minimum-degree elimination: the order, and each pivot's later neighbours (fill included)."""
    adjacency = [set(s) for s in neighbours]
    alive = set(range(len(adjacency)))
    order, later = [], []
    while alive:
        k = min(alive, key=lambda v: (len(adjacency[v]), v))
        around = adjacency[k]
        order.append(k)
        later.append(sorted(around))
        for i in around:
            adjacency[i] |= around - {i}
            adjacency[i].discard(k)
        alive.remove(k)
    return order, later


def build_model(net: pp.pandapowerNet) -> NRModel:
    """Compile ``net`` once: Ybus pattern and values, branch terms, block-LU structure."""
    from pandapower.pypower.idx_brch import F_BUS, T_BUS
    from pandapower.pypower.idx_bus import BASE_KV, BS, GS
    from pandapower.pypower.makeYbus import branch_vectors

    if len(net.ext_grid) != 1:
        raise ValueError(f"net {net.name!r}: the batched solver needs exactly one ext_grid (the slack), got {len(net.ext_grid)}")
    ppc, lookups = _ppc_of(net)
    bus, branch, base = ppc["bus"], ppc["branch"], float(ppc["baseMVA"])
    nb, nbr = len(bus), len(branch)
    bus_order = lookups["bus"][net.bus.index.to_numpy()].astype(np.int64)
    ranges = lookups.get("branch", {})
    line_branch = np.arange(*ranges["line"], dtype=np.int64) if "line" in ranges else np.zeros(0, np.int64)
    trafo_branch = np.arange(*ranges["trafo"], dtype=np.int64) if "trafo" in ranges else np.zeros(0, np.int64)
    if len(line_branch) != len(net.line) or len(trafo_branch) != len(net.trafo):
        raise ValueError(f"net {net.name!r}: branches in the model do not match the line and trafo tables")
    f = branch[:, F_BUS].real.astype(np.int64)
    t = branch[:, T_BUS].real.astype(np.int64)
    y_tt, y_ff, y_ft, y_tf = branch_vectors(branch, nbr)

    # Ybus pattern: the diagonal and every branch's two off-diagonal entries
    rows = np.concatenate([np.arange(nb), f, t])
    cols = np.concatenate([np.arange(nb), t, f])
    pattern = sorted(set(zip(rows.tolist(), cols.tolist())))
    indptr = np.zeros(nb + 1, np.int64)
    for r, _ in pattern:
        indptr[r + 1] += 1
    indptr = np.cumsum(indptr)
    indices = np.array([c for _, c in pattern], np.int64)
    where = {rc: k for k, rc in enumerate(pattern)}
    at = lambda a, b: np.array([where[(int(x), int(y))] for x, y in zip(a, b)], np.int64)  # noqa: E731
    at_ff, at_ft, at_tf, at_tt = at(f, f), at(f, t), at(t, f), at(t, t)
    diag = at(np.arange(nb), np.arange(nb))

    # fixed values: lines and bus shunts; transformers are added per copy with their taps
    y_fixed = np.zeros(len(pattern), np.complex128)
    np.add.at(y_fixed, diag, (bus[:, GS] + 1j * bus[:, BS]) / base)
    fixed = np.setdiff1d(np.arange(nbr), trafo_branch)
    for terms, position in ((y_ff, at_ff), (y_ft, at_ft), (y_tf, at_tf), (y_tt, at_tt)):
        np.add.at(y_fixed, position[fixed], terms[fixed])

    # unknowns and the block-LU structure
    slack = int(lookups["bus"][int(net.ext_grid.bus.iloc[0])])
    others = [i for i in range(nb) if i != slack]
    var = {b: k for k, b in enumerate(others)}
    neighbours = [set() for _ in others]
    for r, c in pattern:
        if r != c and r != slack and c != slack:
            neighbours[var[r]].add(var[c])
    order, later = _elimination_order(neighbours)
    position = {v: p for p, v in enumerate(order)}
    pq = np.array([others[v] for v in order], np.int64)
    later = [[position[v] for v in vs] for vs in later]
    slots: dict[tuple[int, int], int] = {(p, p): p for p in range(len(order))}
    for p, after in enumerate(later):
        for q in after:
            slots.setdefault((q, p), len(slots))
            slots.setdefault((p, q), len(slots))
    low_ptr, low_row, low_slot, up_slot = [0], [], [], []
    op_ptr, op_ij, op_ik, op_kj = [0], [], [], []
    for p, after in enumerate(later):
        for q in after:
            low_row.append(q)
            low_slot.append(slots[(q, p)])
            up_slot.append(slots[(p, q)])
            for r in after:
                op_ij.append(slots[(q, r)])
                op_ik.append(slots[(q, p)])
                op_kj.append(slots[(p, r)])
        low_ptr.append(len(low_row))
        op_ptr.append(len(op_ij))
    bus_var = {b: position[var[b]] for b in others}
    j_slot = np.array([slots[(bus_var[r], bus_var[c])] if r != slack and c != slack else -1 for r, c in pattern], np.int64)

    # results: |I| in pu -> loading in percent, as pandapower defines it
    base_kv = bus[:, BASE_KV].real
    rating = (net.line.max_i_ka * net.line.df * net.line.parallel).to_numpy(float)
    line_scale = np.stack([base / (np.sqrt(3.0) * base_kv[f[line_branch]]), base / (np.sqrt(3.0) * base_kv[t[line_branch]])], 1)
    line_scale *= 100.0 / rating[:, None] if len(rating) else 1.0
    sn = (net.trafo.sn_mva * net.trafo.parallel).to_numpy(float)
    trafo_scale = np.stack([net.trafo.vn_hv_kv.to_numpy(float) / base_kv[f[trafo_branch]],
                            net.trafo.vn_lv_kv.to_numpy(float) / base_kv[t[trafo_branch]]], 1)
    trafo_scale *= base * 100.0 / sn[:, None] if len(sn) else 1.0

    element_bus = lambda table: lookups["bus"][net[table].bus.to_numpy()].astype(np.int64) if len(net[table]) else np.zeros(0, np.int64)  # noqa: E731
    ext = net.ext_grid.iloc[0]
    v_slack = complex(float(ext.vm_pu) * np.exp(1j * np.deg2rad(float(ext.va_degree))))
    as_int = lambda x: np.asarray(x, np.int64)  # noqa: E731
    return NRModel(
        base, indptr, indices, y_fixed, diag, f, t, y_ff.astype(np.complex128), y_ft.astype(np.complex128),
        y_tf.astype(np.complex128), y_tt.astype(np.complex128), at_ff, at_ft, at_tf, at_tt, line_branch, trafo_branch,
        np.ascontiguousarray(line_scale.reshape(-1, 2)), np.ascontiguousarray(trafo_scale.reshape(-1, 2)),
        element_bus("load"), element_bus("sgen"), element_bus("storage"), element_bus("shunt"), slack, v_slack, pq, j_slot,
        len(slots), as_int(low_ptr), as_int(low_row), as_int(low_slot), as_int(up_slot), as_int(op_ptr), as_int(op_ij),
        as_int(op_ik), as_int(op_kj), bus_order)


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


@njit(cache=True, error_model="numpy")
def _injections(m, load_p, load_q, sgen_p, sgen_q, storage_p, S):
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
def _worse(worst, d):
    """The larger mismatch, where NaN counts as the largest and stays: ``max`` would pass over a
    NaN injection and let its copy count as converged."""
    return d if d > worst or d != d else worst


@njit(cache=True, error_model="numpy", fastmath=FAST)
def _mismatch(m, Yr, Yi, Vr, Vi, Sr, Si, Ir, Ii, F, worst):
    """I = Ybus V. F = I - conj(S / V) at the PQ buses (current mismatch, what Newton zeroes);
    ``worst`` gets each lane's largest power mismatch |V conj(I) - S|, the convergence test of
    runpp and lightsim2grid."""
    for i in range(Vr.shape[0]):
        for c in range(LANES):
            Ir[i, c] = 0.0
            Ii[i, c] = 0.0
        for e in range(m.y_indptr[i], m.y_indptr[i + 1]):
            j = m.y_indices[e]
            for c in range(LANES):
                Ir[i, c] += Yr[e, c] * Vr[j, c] - Yi[e, c] * Vi[j, c]
                Ii[i, c] += Yr[e, c] * Vi[j, c] + Yi[e, c] * Vr[j, c]
    for c in range(LANES):
        worst[c] = 0.0
    for p in range(m.pq.size):
        i = m.pq[p]
        for c in range(LANES):
            vr, vi = Vr[i, c], Vi[i, c]
            dp = vr * Ir[i, c] + vi * Ii[i, c] - Sr[i, c]  # V conj(I) - S
            dq = vi * Ir[i, c] - vr * Ii[i, c] - Si[i, c]
            worst[c] = _worse(_worse(worst[c], abs(dp)), abs(dq))
            scale = 1.0 / (vr * vr + vi * vi)  # I - conj(S / V) = conj(dS) V / |V|²
            F[p, 0, c] = (dp * vr + dq * vi) * scale
            F[p, 1, c] = (dp * vi - dq * vr) * scale


@njit(cache=True, error_model="numpy", fastmath=FAST)
def _jacobian(m, Yr, Yi, Vr, Vi, Sr, Si, J):
    """d(I - conj(S/V)) / d(e, f) in 2×2 blocks, V = e + jf: Ybus's [[G, -B], [B, G]] off the
    diagonal, and on it also the constant-power load term (the only part that moves)."""
    J[:] = 0.0
    for p in range(m.pq.size):
        i = m.pq[p]
        for e in range(m.y_indptr[i], m.y_indptr[i + 1]):
            s = m.j_slot[e]
            if s >= 0:
                for c in range(LANES):
                    J[s, 0, c] = Yr[e, c]
                    J[s, 1, c] = -Yi[e, c]
                    J[s, 2, c] = Yi[e, c]
                    J[s, 3, c] = Yr[e, c]
        for c in range(LANES):
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
def _factor_and_solve(m, J, F, x, Dinv, singular):
    """Block LU of J in place, then x = -J⁻¹ F, lane by lane in lockstep. Blocks are
    ``J[s, :, c] = (a, b, c, d)`` for [[a, b], [c, d]]; a lane with a singular pivot is flagged."""
    n = m.pq.size
    for k in range(n):
        for c in range(LANES):
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
            for c in range(LANES):
                l0, l1, l2, l3 = J[s, 0, c], J[s, 1, c], J[s, 2, c], J[s, 3, c]
                p0, p1, p2, p3 = Dinv[k, 0, c], Dinv[k, 1, c], Dinv[k, 2, c], Dinv[k, 3, c]
                J[s, 0, c] = l0 * p0 + l1 * p2
                J[s, 1, c] = l0 * p1 + l1 * p3
                J[s, 2, c] = l2 * p0 + l3 * p2
                J[s, 3, c] = l2 * p1 + l3 * p3
        for o in range(m.op_ptr[k], m.op_ptr[k + 1]):  # J[i, j] -= L[i, k] U[k, j]
            ik, kj, ij = m.op_ik[o], m.op_kj[o], m.op_ij[o]
            for c in range(LANES):
                l0, l1, l2, l3 = J[ik, 0, c], J[ik, 1, c], J[ik, 2, c], J[ik, 3, c]
                u0, u1, u2, u3 = J[kj, 0, c], J[kj, 1, c], J[kj, 2, c], J[kj, 3, c]
                J[ij, 0, c] -= l0 * u0 + l1 * u2
                J[ij, 1, c] -= l0 * u1 + l1 * u3
                J[ij, 2, c] -= l2 * u0 + l3 * u2
                J[ij, 3, c] -= l2 * u1 + l3 * u3
    for k in range(n):
        for c in range(LANES):
            x[k, 0, c] = -F[k, 0, c]
            x[k, 1, c] = -F[k, 1, c]
    for k in range(n):  # forward: y_i -= L[i, k] y_k
        for e in range(m.low_ptr[k], m.low_ptr[k + 1]):
            i, s = m.low_row[e], m.low_slot[e]
            for c in range(LANES):
                y0, y1 = x[k, 0, c], x[k, 1, c]
                x[i, 0, c] -= J[s, 0, c] * y0 + J[s, 1, c] * y1
                x[i, 1, c] -= J[s, 2, c] * y0 + J[s, 3, c] * y1
    for k in range(n - 1, -1, -1):  # backward: x_k = D⁻¹ (y_k - Σ U[k, i] x_i)
        for e in range(m.low_ptr[k], m.low_ptr[k + 1]):
            i, s = m.low_row[e], m.up_slot[e]
            for c in range(LANES):
                x[k, 0, c] -= J[s, 0, c] * x[i, 0, c] + J[s, 1, c] * x[i, 1, c]
                x[k, 1, c] -= J[s, 2, c] * x[i, 0, c] + J[s, 3, c] * x[i, 1, c]
        for c in range(LANES):
            r0, r1 = x[k, 0, c], x[k, 1, c]
            x[k, 0, c] = Dinv[k, 0, c] * r0 + Dinv[k, 1, c] * r1
            x[k, 1, c] = Dinv[k, 2, c] * r0 + Dinv[k, 3, c] * r1


@njit(cache=True, inline="always")
def _abs2(z):
    return z.real * z.real + z.imag * z.imag


@njit(cache=True, error_model="numpy")
def _results(m, V, tap_factor, vm, va, line_loading, trafo_loading, trafo_p_hv, angles):
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


@njit(cache=True, error_model="numpy")
def solve_batch(m, active, V, load_p, load_q, sgen_p, sgen_q, storage_p, shunt_q, tap_factor, tol, max_iter,
                converged, iterations, vm, va, line_loading, trafo_loading, trafo_p_hv, angles):
    """Solve every copy ``b`` with ``active[b]``, from its voltages ``V[b]`` (internal bus order,
    overwritten with the solution); bus results come out in ``net.bus`` row order. A copy that
    does not converge keeps its old results and leaves ``V[b]`` undefined.

    Copies go through Newton ``LANES`` at a time in lockstep (real and imaginary parts in
    separate arrays, the lane innermost), so independent copies overlap each other's dependency
    chains in the LU (measured: about 25 % less time per iteration than one copy at a time). A
    lane stops updating once converged."""
    nb, n, nnz = V.shape[1], m.pq.size, m.y_indices.size
    Y = np.empty(nnz, np.complex128)
    S = np.empty(nb, np.complex128)
    Yr, Yi = np.empty((nnz, LANES)), np.empty((nnz, LANES))
    Sr, Si = np.empty((nb, LANES)), np.empty((nb, LANES))
    Vr, Vi = np.empty((nb, LANES)), np.empty((nb, LANES))
    Ir, Ii = np.empty((nb, LANES)), np.empty((nb, LANES))
    J = np.empty((m.n_slots, 4, LANES))
    F = np.empty((n, 2, LANES))
    x = np.empty((n, 2, LANES))
    Dinv = np.empty((n, 4, LANES))
    worst = np.empty(LANES)
    live = np.empty(LANES)
    singular = np.zeros(LANES, np.bool_)
    lane_copy = np.empty(LANES, np.int64)
    rows = np.flatnonzero(active)
    for start in range(0, rows.size, LANES):
        for c in range(LANES):  # a short last chunk repeats its first copy in the spare lanes
            b = rows[start + c] if start + c < rows.size else rows[start]
            lane_copy[c] = b
            _admittance(m, tap_factor[b], shunt_q[b], Y)
            _injections(m, load_p[b], load_q[b], sgen_p[b], sgen_q[b], storage_p[b], S)
            V[b, m.slack] = m.v_slack
            for e in range(nnz):
                Yr[e, c], Yi[e, c] = Y[e].real, Y[e].imag
            for i in range(nb):
                Sr[i, c], Si[i, c] = S[i].real, S[i].imag
                Vr[i, c], Vi[i, c] = V[b, i].real, V[b, i].imag
            live[c] = 1.0
            singular[c] = False
            converged[b] = False
        it = 0
        while True:
            _mismatch(m, Yr, Yi, Vr, Vi, Sr, Si, Ir, Ii, F, worst)
            running = False
            for c in range(LANES):
                if live[c] == 1.0:
                    if worst[c] < tol:
                        live[c] = 0.0
                        converged[lane_copy[c]] = True
                        iterations[lane_copy[c]] = it
                    elif singular[c] or not np.isfinite(worst[c]):
                        live[c] = 0.0
                        iterations[lane_copy[c]] = it
                    else:
                        running = True
            if not running or it == max_iter:
                break
            _jacobian(m, Yr, Yi, Vr, Vi, Sr, Si, J)
            _factor_and_solve(m, J, F, x, Dinv, singular)
            for p in range(n):
                i = m.pq[p]
                for c in range(LANES):
                    Vr[i, c] += live[c] * x[p, 0, c]
                    Vi[i, c] += live[c] * x[p, 1, c]
            it += 1
        for c in range(LANES):
            b = lane_copy[c]
            if live[c] == 1.0:
                iterations[b] = it
            for i in range(nb):
                V[b, i] = complex(Vr[i, c], Vi[i, c])
            if converged[b]:
                _results(m, V[b], tap_factor[b], vm[b], va[b], line_loading[b], trafo_loading[b], trafo_p_hv[b], angles)
