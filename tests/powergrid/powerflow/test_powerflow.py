import copy
import re
import warnings

import numpy as np
import pandapower as pp
import pytest

from powergrid.networks import CIGRE_LV, IEEE13Bus, IEEE34Bus, IEEE123Bus, attach_ieee13_microgrid, build_operator_network
from powergrid.powerflow import LightSimBackend, PandapowerBackend, make_backend
from powergrid.powerflow.batched import BatchedNewtonBackend, NewtonBackend, OneCopyBackend
from powergrid.powerflow.sweep_backend import BatchedSweepBackend, SweepBackend

warnings.filterwarnings("ignore", category=FutureWarning)


def fused():
    net, ob = build_operator_network("IEEE34", "DSO", load_scale=0.5)
    for mg, node in zip(("MG1", "MG2", "MG3"), ("806", "816", "832")):
        attach_ieee13_microgrid(net, ob[node], mg, load_scale=0.1)
    return net


def with_devices(net):
    """Add generation and storage at a few buses so every injection kind is exercised."""
    rng = np.random.default_rng(0)
    buses = rng.choice(net.bus.index[net.bus.vn_kv < 30], size=3, replace=False)
    for b in buses[:2]:
        pp.create_sgen(net, b, p_mw=0.05, q_mvar=0.0)
    pp.create_storage(net, buses[2], p_mw=0.0, max_e_mwh=1.0)
    return net


NETWORKS = {"IEEE13": IEEE13Bus, "IEEE34": IEEE34Bus, "IEEE123": IEEE123Bus, "CIGRE_LV": CIGRE_LV,
            "IEEE34+3xIEEE13": fused}


@pytest.mark.parametrize("fast_backend", [LightSimBackend, NewtonBackend, SweepBackend])
@pytest.mark.parametrize("name", ["IEEE34+3xIEEE13", *(pytest.param(n, marks=pytest.mark.slow) for n in sorted(NETWORKS) if n != "IEEE34+3xIEEE13")])
def test_fast_backends_match_pandapower_on_200_random_states(name, fast_backend):  # the default setup's net in the quick loop, every net in CI
    net = with_devices(NETWORKS[name]())
    fast, ref = fast_backend(copy.deepcopy(net)), PandapowerBackend(copy.deepcopy(net))
    rng = np.random.default_rng(42)
    tapped = np.isfinite(net.trafo.tap_step_percent.to_numpy(float)) & (net.trafo.tap_step_percent.fillna(0).to_numpy() != 0)
    worst_v = worst_loading = 0.0
    for _ in range(200):
        factors = rng.uniform(0.5, 1.5, size=len(net.load))
        sgen = rng.uniform(0.0, 0.1, size=len(net.sgen))
        sgen_q = rng.uniform(-0.03, 0.03, size=len(net.sgen))
        storage = rng.uniform(-0.05, 0.05, size=len(net.storage))
        taps = fast.initial["trafo_tap"] + np.where(tapped, rng.integers(-4, 5, size=len(net.trafo)), 0)
        for b in (fast, ref):
            b.load_p[:] = b.initial["load_p"] * factors
            b.load_q[:] = b.initial["load_q"] * factors
            b.sgen_p[:], b.sgen_q[:], b.storage_p[:], b.trafo_tap[:] = sgen, sgen_q, storage, taps
        r_fast, r_ref = fast.solve(), ref.solve()
        assert r_fast.converged and r_ref.converged
        worst_v = max(worst_v, np.abs(r_fast.vm_pu - r_ref.vm_pu).max(), np.deg2rad(np.abs(r_fast.va_degree - r_ref.va_degree).max()))
        worst_loading = max(worst_loading, np.abs(r_fast.line_loading_percent - r_ref.line_loading_percent).max())
        np.testing.assert_allclose(r_fast.trafo_p_hv_mw, r_ref.trafo_p_hv_mw, atol=1e-6)
    assert worst_v < 1e-6, worst_v
    assert worst_loading < 1e-3, worst_loading
    if isinstance(fast, OneCopyBackend):
        assert fast.fallback_solves == 0  # the kernel solved every state itself


@pytest.mark.parametrize("make", [LightSimBackend, NewtonBackend, SweepBackend])
def test_divergence_is_reported_not_raised_and_recovers(make):
    backend = make(IEEE13Bus())
    assert backend.solve().converged
    good = backend.result.vm_pu.copy()
    backend.load_p[:] = backend.initial["load_p"] * 60.0
    assert not backend.solve().converged
    np.testing.assert_array_equal(backend.result.vm_pu, good)  # last good results are kept
    backend.load_p[:] = backend.initial["load_p"]
    assert backend.solve().converged
    np.testing.assert_allclose(backend.result.vm_pu, good, atol=1e-9)


def test_reference_backend_reports_divergence_too():
    backend = PandapowerBackend(IEEE13Bus())
    backend.load_p[:] = backend.initial["load_p"] * 60.0
    assert not backend.solve().converged


BACKENDS = {"lightsim2grid": LightSimBackend, "pandapower": PandapowerBackend, "sweep": SweepBackend, "newton": NewtonBackend,
            "numba-batched": lambda net: BatchedNewtonBackend(net, 3), "sweep-batched": lambda net: BatchedSweepBackend(net, 3)}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("key, value", [("load_p", np.nan), ("load_q", -np.inf), ("sgen_p", np.nan), ("sgen_q", np.inf),
                                        ("storage_p", np.nan), ("shunt_q", np.nan), ("trafo_tap", np.nan)])
def test_a_non_finite_input_raises_naming_it(backend, key, value):
    """lightsim2grid on its own would skip a NaN (its change test is false) and report the old
    state as converged; the batched kernel once did too. Every backend names the input instead,
    and solves again once it is fixed."""
    solver = BACKENDS[backend](with_devices(IEEE13Bus()))
    assert np.all(solver.solve().converged)
    values = getattr(solver, key)
    last = values.shape[-1] - 1
    where = (2, last) if values.ndim == 2 else (last,)
    values[where] = value
    with pytest.raises(ValueError, match=rf"power-flow input {key}\[{', '.join(map(str, where))}\] is {value}; "):
        solver.solve()
    values[where] = solver.initial[key][where[-1]]
    assert np.all(solver.solve().converged)


def test_unknown_backend_and_unsupported_elements():
    with pytest.raises(ValueError, match="unknown power-flow backend 'magic'"):
        make_backend(IEEE13Bus(), "magic")
    net = IEEE13Bus()
    pp.create_gen(net, 3, p_mw=0.1)
    with pytest.raises(ValueError, match=r"\['gen'\]"):
        LightSimBackend(net)


@pytest.mark.slow  # 4 s: builds every network
def test_element_names_are_prefixed():
    assert IEEE13Bus("MGx").bus.name.iloc[0] == "MGx Bus 650"
    assert IEEE34Bus("DSO").line.name.iloc[0] == "DSO Line 800-802"
    assert IEEE123Bus("DSO").trafo.name.iloc[0] == "DSO Regulator 150-149"
    assert CIGRE_LV("LV").bus.name.str.startswith("LV ").all()


@pytest.mark.parametrize("build", [IEEE13Bus, IEEE34Bus, IEEE123Bus, CIGRE_LV])
@pytest.mark.parametrize("name", ["", " ", None, 3])
def test_a_network_name_must_be_a_non_empty_string(build, name):
    with pytest.raises(ValueError, match=rf"a network name \(it prefixes every element name\) must be a non-empty string, got {re.escape(repr(name))}"):
        build(name)


def test_the_sweep_refuses_a_net_that_is_not_a_tree():
    net = IEEE13Bus()
    pp.create_line_from_parameters(net, 1, 5, length_km=0.1, r_ohm_per_km=0.1, x_ohm_per_km=0.1, c_nf_per_km=0.0, max_i_ka=0.5)
    with pytest.raises(ValueError, match=r"is not radial: 14 buses and 14 branches .*use the Newton backend"):
        SweepBackend(net)
    island = IEEE13Bus()
    pp.create_bus(island, vn_kv=4.16)
    pp.create_bus(island, vn_kv=4.16)
    pp.create_line_from_parameters(island, 14, 15, length_km=0.1, r_ohm_per_km=0.1, x_ohm_per_km=0.1, c_nf_per_km=0.0, max_i_ka=0.5)
    pp.create_line_from_parameters(island, 1, 5, length_km=0.1, r_ohm_per_km=0.1, x_ohm_per_km=0.1, c_nf_per_km=0.0, max_i_ka=0.5)
    with pytest.raises(ValueError, match="2 buses are not connected to the external grid"):
        SweepBackend(island)


def test_a_copied_sweep_backend_keeps_its_own_injections():
    """The single-copy backend's arrays are views of its batch: a copy must rebind them."""
    backend = SweepBackend(with_devices(IEEE13Bus()))
    backend.load_p *= 0.5
    twin = copy.deepcopy(backend)
    np.testing.assert_array_equal(twin.load_p, backend.load_p)
    twin.load_p *= 2.0
    assert twin._batch.load_p[0] is not backend._batch.load_p[0] and np.shares_memory(twin.load_p, twin._batch.load_p)
    r_twin, r_own = twin.solve().vm_pu.copy(), backend.solve().vm_pu.copy()
    assert not np.allclose(r_twin, r_own)
    reference = PandapowerBackend(with_devices(IEEE13Bus()))
    reference.load_p[:] = twin.load_p
    np.testing.assert_allclose(reference.solve().vm_pu, r_twin, atol=1e-8)


def test_backends_are_named_before_their_modules_are_imported():
    from powergrid import powerflow

    assert sorted(powerflow.BACKENDS) == ["lightsim2grid", "newton", "pandapower", "sweep"] and len(powerflow.BACKENDS) == 4
    assert powerflow.BACKENDS["sweep"] is SweepBackend and powerflow.LightSimBackend is LightSimBackend
    assert powerflow.NewtonBackend is NewtonBackend
    with pytest.raises(ValueError, match="unknown power-flow backend 'krylov'"):
        make_backend(IEEE13Bus(), "krylov")
    with pytest.raises(AttributeError, match="no attribute 'KrylovBackend'"):
        powerflow.KrylovBackend


@pytest.mark.parametrize("batched", [BatchedNewtonBackend, BatchedSweepBackend])
def test_batched_kernels_give_every_copy_the_same_answer_on_any_number_of_threads(batched):
    """Copies differ (their loads and taps) and some are left out; the kernels spread groups of
    copies over threads, and a copy's answer is its own whichever thread solves it."""
    import numba

    rng = np.random.default_rng(1)
    solver = batched(fused(), 13)
    solver.load_p *= rng.uniform(0.5, 1.5, solver.load_p.shape)
    solver.trafo_tap[:] = rng.integers(-2, 3, solver.trafo_tap.shape)
    rows = rng.uniform(size=13) < 0.8
    start = solver.warm_start
    answers = []
    for threads in sorted({1, numba.get_num_threads()}):
        numba.set_num_threads(threads)
        solver.warm_start = start
        r = solver.solve(rows)
        answers.append((r.converged.copy(), r.vm_pu.copy(), r.line_loading_percent.copy()))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    single = batched(fused(), 1)
    for b in np.flatnonzero(rows):
        for key in BatchedNewtonBackend.INJECTIONS:
            getattr(single, key)[0] = getattr(solver, key)[b]
        assert single.solve().converged[0]
        assert np.allclose(single.result.vm_pu[0], answers[0][1][b], atol=1e-9)
    for converged, vm, lines in answers[1:]:
        assert np.array_equal(converged, answers[0][0]) and np.array_equal(vm, answers[0][1]) and np.array_equal(lines, answers[0][2])
    assert answers[0][0][rows].all() and not answers[0][0][~rows].any()
