"""The network model the batched Newton kernel (:mod:`powergrid.powerflow.newton`) solves.

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
import heapq
import warnings
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["Network", "NRModel", "extended", "network_of", "build_model", "LANES"]

LANES = 4  # copies in lockstep (8 measured no faster)


def _ppc_of(net: pp.pandapowerNet):
    """pandapower's internal model of ``net`` (with switchable shunts at zero), and its lookups."""
    import pandapower as pp
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
    """Minimum-degree elimination: the order, and each pivot's later neighbours (fill included).
    A heap of (degree, vertex) with stale entries skipped: n log n on a sparse net, where a scan
    for the minimum would be n squared (minutes at 18,000 buses)."""
    adjacency = [set(s) for s in neighbours]
    alive = [True] * len(adjacency)
    heap = [(len(a), v) for v, a in enumerate(adjacency)]
    heapq.heapify(heap)
    order, later = [], []
    while heap:
        degree, k = heapq.heappop(heap)
        if not alive[k] or degree != len(adjacency[k]):
            continue  # eliminated already, or its degree changed since this entry was pushed
        around = adjacency[k]
        order.append(k)
        later.append(sorted(around))
        alive[k] = False
        for i in around:
            adjacency[i] |= around - {i}
            adjacency[i].discard(k)
            heapq.heappush(heap, (len(adjacency[i]), i))
    return order, later


class Network(NamedTuple):
    """pandapower's model of a net as flat arrays (internal bus order): what every kernel needs,
    whatever its method."""

    base_mva: float
    br_from: np.ndarray       # per branch (lines, then transformers, pandapower's order)
    br_to: np.ndarray
    y_ff: np.ndarray          # branch admittances at the construction taps
    y_ft: np.ndarray
    y_tf: np.ndarray
    y_tt: np.ndarray
    y_shunt: np.ndarray       # per bus: fixed shunt admittance (pu; switchable shunts apart)
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
    bus_order: np.ndarray     # internal bus of each net.bus row


def extended(name: str, doc: str, fields: list[tuple[str, type]]) -> type:
    """A NamedTuple with :class:`Network`'s fields, then ``fields``: a kernel's model is the
    network plus what its method needs (Numba reads both alike)."""
    model = NamedTuple(name, [*Network.__annotations__.items(), *fields])
    model.__doc__ = doc
    return model


NRModel = extended("NRModel", """The network plus the Newton kernel's: the CSR pattern of Ybus over all buses
(``y_indptr``, ``y_indices``), its values without transformers and switchable shunts
(``y_fixed``), the position of each diagonal entry (``diag``) and of each branch's four terms
(``at_ff``...); the unknowns in elimination order (``pq``), the Jacobian block of each Ybus
entry (``j_slot``, -1 in the slack's row or column) and the block-LU plan: per pivot k the rows
below it (``low_ptr``, ``low_row``, ``low_slot``, ``up_slot``) and the updates J[ij] -= J[ik] @
J[kj] (``op_ptr``, ``op_ij``, ``op_ik``, ``op_kj``).""",
                   [("y_indptr", np.ndarray), ("y_indices", np.ndarray), ("y_fixed", np.ndarray), ("diag", np.ndarray),
                    ("at_ff", np.ndarray), ("at_ft", np.ndarray), ("at_tf", np.ndarray), ("at_tt", np.ndarray),
                    ("pq", np.ndarray), ("j_slot", np.ndarray), ("n_slots", int), ("low_ptr", np.ndarray),
                    ("low_row", np.ndarray), ("low_slot", np.ndarray), ("up_slot", np.ndarray), ("op_ptr", np.ndarray),
                    ("op_ij", np.ndarray), ("op_ik", np.ndarray), ("op_kj", np.ndarray)])


def network_of(net: pp.pandapowerNet) -> Network:
    """Compile ``net``'s branches, shunts, element buses and result scales once."""
    from pandapower.pypower.idx_brch import F_BUS, T_BUS
    from pandapower.pypower.idx_bus import BASE_KV, BS, GS
    from pandapower.pypower.makeYbus import branch_vectors

    if len(net.ext_grid) != 1:
        raise ValueError(f"net {net.name!r}: the fast solvers need exactly one ext_grid (the slack), got {len(net.ext_grid)}")
    ppc, lookups = _ppc_of(net)
    bus, branch, base = ppc["bus"], ppc["branch"], float(ppc["baseMVA"])
    nbr = len(branch)
    bus_order = lookups["bus"][net.bus.index.to_numpy()].astype(np.int64)
    ranges = lookups.get("branch", {})
    line_branch = np.arange(*ranges["line"], dtype=np.int64) if "line" in ranges else np.zeros(0, np.int64)
    trafo_branch = np.arange(*ranges["trafo"], dtype=np.int64) if "trafo" in ranges else np.zeros(0, np.int64)
    if len(line_branch) != len(net.line) or len(trafo_branch) != len(net.trafo):
        raise ValueError(f"net {net.name!r}: branches in the model do not match the line and trafo tables")
    f = branch[:, F_BUS].real.astype(np.int64)
    t = branch[:, T_BUS].real.astype(np.int64)
    y_tt, y_ff, y_ft, y_tf = branch_vectors(branch, nbr)

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
    slack = int(lookups["bus"][int(ext.bus)])
    return Network(base, f, t, y_ff.astype(np.complex128), y_ft.astype(np.complex128), y_tf.astype(np.complex128),
                   y_tt.astype(np.complex128), ((bus[:, GS] + 1j * bus[:, BS]) / base).astype(np.complex128), line_branch,
                   trafo_branch, np.ascontiguousarray(line_scale.reshape(-1, 2)), np.ascontiguousarray(trafo_scale.reshape(-1, 2)),
                   element_bus("load"), element_bus("sgen"), element_bus("storage"), element_bus("shunt"), slack, v_slack,
                   bus_order)


def build_model(net: pp.pandapowerNet) -> NRModel:
    """Compile ``net`` once: Ybus pattern and values, branch terms, block-LU structure."""
    w = network_of(net)
    f, t, nb, nbr = w.br_from, w.br_to, len(w.y_shunt), len(w.br_from)
    y_ff, y_ft, y_tf, y_tt, trafo_branch, slack = w.y_ff, w.y_ft, w.y_tf, w.y_tt, w.trafo_branch, w.slack
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
    np.add.at(y_fixed, diag, w.y_shunt)
    fixed = np.setdiff1d(np.arange(nbr), trafo_branch)
    for terms, position in ((y_ff, at_ff), (y_ft, at_ft), (y_tf, at_tf), (y_tt, at_tt)):
        np.add.at(y_fixed, position[fixed], terms[fixed])

    # unknowns and the block-LU structure
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

    as_int = lambda x: np.asarray(x, np.int64)  # noqa: E731
    return NRModel(*w, y_indptr=indptr, y_indices=indices, y_fixed=y_fixed, diag=diag, at_ff=at_ff, at_ft=at_ft, at_tf=at_tf,
                   at_tt=at_tt, pq=pq, j_slot=j_slot, n_slots=len(slots), low_ptr=as_int(low_ptr), low_row=as_int(low_row),
                   low_slot=as_int(low_slot), up_slot=as_int(up_slot), op_ptr=as_int(op_ptr), op_ij=as_int(op_ij),
                   op_ik=as_int(op_ik), op_kj=as_int(op_kj))

