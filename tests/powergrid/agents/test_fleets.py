"""A device acting alone (its row as Python floats) and its fleet (all rows as arrays) apply the
same formulas: they must give the same numbers, edge cases included."""
import numpy as np
import pytest

from powergrid.agents import ESS, Generator, GeneratorFleet, StorageFleet

GENERATORS = [  # name, p_min, p_max, q_max, s_max, pf_min, cost (a, b, c)
    {"name": "g0", "p_min": 0.0, "p_max": 1.0, "q_max": 0.5, "s_max": 0.9, "pf_min": 0.8, "cost": (0.02, 10.0, 1.0)},
    {"name": "g1", "p_min": 0.1, "p_max": 0.6, "q_max": 0.6, "s_max": 0.7, "pf_min": 0.0, "cost": (0.0, 25.0, 0.0)},
    {"name": "idle", "p_min": 0.0, "p_max": 0.3, "q_max": 0.1, "pf_min": 0.9, "cost": (0.1, 0.0, 3.0)},
]
STORAGE = [
    {"name": "s0", "capacity": 2.0, "p_max": 0.5, "soc_init": 0.5, "soc_min": 0.2, "soc_max": 0.9, "eff_ch": 0.9,
     "eff_dis": 0.95, "cost_per_mwh": 2.0},
    {"name": "full", "capacity": 0.5, "p_max": 1.0, "soc_init": 0.95, "soc_max": 1.0},
    {"name": "empty", "capacity": 0.5, "p_max": 1.0, "soc_init": 0.05},
]


@pytest.mark.parametrize("dt_h", [1.0, 0.25])
def test_one_generator_matches_its_fleet(dt_h):
    rng = np.random.default_rng(1)
    alone, fleet = GeneratorFleet(GENERATORS), GeneratorFleet(GENERATORS)
    devices = [Generator(cfg["name"], alone, i, dt_h=dt_h) for i, cfg in enumerate(GENERATORS)]
    for step in range(50):
        action = rng.uniform(-0.2, 1.2, (len(GENERATORS), 2))
        if step == 0:
            action[2] = 0.0  # an idle generator: no power-factor penalty
        for device, a in zip(devices, action):
            device._execute_local_action(a)
        p = np.clip(action[:, 0], fleet.p_min, fleet.p_max)
        q = np.clip(action[:, 1], fleet.q_min, fleet.q_max)
        fleet.dispatch(slice(None), p, q)
        np.testing.assert_array_equal(alone.p, fleet.p)
        np.testing.assert_array_equal(alone.q, fleet.q)
        np.testing.assert_allclose([d.cost for d in devices], fleet.cost(slice(None), dt_h), rtol=1e-14, atol=1e-14)
        assert all(d.safety == 0.0 for d in devices)  # its limits are physics, enforced, not penalised
        assert np.all(np.hypot(fleet.p, fleet.q) <= fleet.s_max + 1e-12)
        assert np.all(np.abs(fleet.q) <= np.where(fleet.pf_min > 0, fleet.p * np.tan(np.arccos(fleet.pf_min)), np.inf) + 1e-12)
        np.testing.assert_allclose([d.state_update()["marginal_cost"] for d in devices], fleet.marginal_cost(slice(None)),
                                   rtol=1e-14)
        assert all(type(v) is float for d in devices for v in d.state_update().values())
        if step == 0:
            assert alone.q[2] == 0.0  # an idle generator with a power-factor floor makes no reactive power


@pytest.mark.parametrize("dt_h", [1.0, 0.25])
def test_one_storage_unit_matches_its_fleet(dt_h):
    rng = np.random.default_rng(2)
    alone, fleet = StorageFleet(STORAGE), StorageFleet(STORAGE)
    devices = [ESS(cfg["name"], alone, i, dt_h=dt_h) for i, cfg in enumerate(STORAGE)]
    bottom, top = np.zeros(len(STORAGE), bool), np.zeros(len(STORAGE), bool)
    for step in range(80):  # full charge, full discharge, then at random: both ends of every window
        action = np.full((len(STORAGE), 1), 1.2 if step < 20 else -1.2) if step < 40 else rng.uniform(-1.2, 1.2, (len(STORAGE), 1))
        for device, a in zip(devices, action):
            device._execute_local_action(a)
        fleet.dispatch(slice(None), np.clip(action[:, 0], fleet.p_min, fleet.p_max), dt_h)
        np.testing.assert_array_equal(alone.p, fleet.p)
        np.testing.assert_allclose(alone.soc, fleet.soc, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose([d.cost for d in devices], fleet.cost(slice(None), dt_h), rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose([d.safety for d in devices], fleet.violation(slice(None)), rtol=1e-14, atol=1e-14)
        assert np.all(fleet.soc >= fleet.soc_min - 1e-12) and np.all(fleet.soc <= fleet.soc_max + 1e-12)  # its window
        assert fleet.violation(slice(None)).max() == 0.0
        bottom |= np.isclose(fleet.soc, fleet.soc_min, atol=1e-12)
        top |= np.isclose(fleet.soc, fleet.soc_max, atol=1e-12)
    assert bottom.all() and top.all()  # every unit reached both ends of its window


def test_a_formula_on_arrays_pickles_and_computes_the_same_after():
    """A fleet formula's twin is kept as the compiled ufunc once called; a copy of it (in a
    pickled env, or a user's own fleet) builds it again rather than failing to pickle it."""
    import pickle

    from powergrid.agents.formulas import generator_p, on_arrays

    twin = on_arrays(generator_p, 4)
    args = (np.array([-1.0, 0.5, 3.0]), np.zeros(3), np.full(3, 2.0), np.full(3, 1.5))
    before = twin(*args)
    again = pickle.loads(pickle.dumps(twin))
    np.testing.assert_array_equal(again(*args), before)
    np.testing.assert_array_equal(before, [generator_p(*(a[i] for a in args)) for i in range(3)])
