"""Physical invariants under random days and action sequences (hypothesis), in every mode.

- no energy from nowhere: each storage unit's state of charge moves exactly by the energy it
  delivered, with its efficiencies, and it never delivers energy it does not hold;
- no device beyond a hard limit (generator P/Q/S/pf, storage rating, renewable availability),
  and the power flow sees exactly what the devices delivered;
- the power flow's balance closes: injections = load + losses;
- a negative cost (income) needs energy really exported from the microgrid's own sources, or
  energy bought at a negative price (the CAISO data has hours of them).
"""
import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.core.policies import Policy
from heron.scheduling import ScheduleConfig
from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.batched import BatchedMicrogrids
from powergrid.setups import load_setup

TOL = 1e-9
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# actions up to 1.5x the largest bound (0.3 MW), so some lie outside the space
ACTION = st.lists(st.floats(-0.45, 0.45, allow_nan=False), min_size=9, max_size=9)
EPISODE = st.tuples(st.integers(0, 60), st.lists(ACTION, min_size=1, max_size=8))


@functools.lru_cache(maxsize=None)
def make_env(centralized: bool = True, backend: str = "lightsim2grid", setup: str = "ieee34_ieee13") -> MultiAgentMicrogrids:
    return MultiAgentMicrogrids({"train": False, "centralized": centralized, "power_flow_backend": backend, "setup": setup})


@functools.lru_cache(maxsize=None)
def make_batch(copies: int) -> BatchedMicrogrids:
    return BatchedMicrogrids(copies, {"train": False})


def split(env, flat):
    return {a: np.asarray(flat[3 * k:3 * k + 3]) for k, a in enumerate(env.possible_agents)}


def check_storage(s, soc_before, dt_h=1.0):
    """The state of charge moved exactly by the delivered energy; nothing delivered it did not hold."""
    p = s.p
    energy = np.where(p > 0, p * s.eff_ch, p / s.eff_dis) * dt_h
    np.testing.assert_allclose(s.soc, soc_before + energy / s.capacity, atol=TOL)
    assert np.all((s.soc >= -TOL) & (s.soc <= 1 + TOL))
    assert np.all(-np.minimum(p, 0) * dt_h / s.eff_dis <= soc_before * s.capacity + TOL)  # held energy
    assert np.all((p >= s.p_min - TOL) & (p <= s.p_max + TOL))


def check_generators(g):
    assert np.all((g.p >= g.p_min - TOL) & (g.p <= g.p_cap + TOL) & (g.p_cap <= g.p_max + TOL))  # solar ones: the hour's sun
    assert np.all((g.q >= g.q_min - TOL) & (g.q <= g.q_max + TOL))
    assert np.all(np.hypot(g.p, g.q) <= g.s_max + TOL)
    assert np.all(np.abs(g.q) <= g.q_slope * g.p + g.q_idle + TOL)


def check_single_env_step(env, soc_before, infos, obs):
    g, s, r = env.generators, env.storage, env.renewables
    check_storage(s, soc_before)
    check_generators(g)
    assert np.all((r.p >= 0) & (r.p <= r.p_max + TOL))
    b = env.backend  # the power flow saw what the devices delivered
    np.testing.assert_array_equal(b.storage_p[s.element], s.p)
    np.testing.assert_array_equal(b.sgen_p[g.element], g.p)
    np.testing.assert_array_equal(b.sgen_q[g.element], g.q)
    np.testing.assert_array_equal(b.sgen_p[r.element], r.p)
    for k, a in enumerate(env.possible_agents):
        names = env.observation_space(a).metadata["names"]
        base = env.agent_dict[a].base_power
        p_import = float(obs[a][names.index("p_import")]) * base
        price = float(obs[a][names.index("price")])
        if infos[a]["cost"] < 0 and price >= 0:  # income only from energy exported from real sources (or bought at a negative price)
            own = lambda owner, values: float(values[owner == k].sum())  # noqa: E731
            sources = own(env.gen_owner, g.p) + own(env.ren_owner, r.p) + own(env.ess_owner, np.maximum(-s.p, 0))
            assert p_import < 0 and -p_import <= sources + 1e-6


@pytest.mark.parametrize("setup", ["ieee34_ieee13", "ieee34_ieee13_simbench"])  # solar generators; generators, PV, wind
@pytest.mark.parametrize("centralized", [True, False])
@SETTINGS
@given(episode=EPISODE)
def test_stepped_modes_conserve_energy_and_respect_limits(centralized, setup, episode):
    day, actions = episode
    env = make_env(centralized, setup=setup)
    env.reset(options={"day": day})
    for flat in actions:
        soc_before = env.storage.soc.copy()
        obs, _, _, _, infos = env.step(split(env, flat))
        check_single_env_step(env, soc_before, infos, obs)


@SETTINGS
@given(episode=EPISODE, copies=st.integers(1, 3))
def test_the_batched_env_conserves_energy_and_respects_limits(episode, copies):
    day, actions = episode
    batch = make_batch(copies)
    batch.reset(seed=day, options={"day": day})
    env = batch.core
    for flat in actions:
        soc_before = env.storage.soc.copy()
        joint = np.tile(flat, (copies, 1)) * np.linspace(1.0, -1.0, copies)[:, None]  # each copy its own action
        batch.step(joint)
        check_storage(env.storage, soc_before)
        check_generators(env.generators)


@pytest.mark.slow  # 9 s of pandapower runs; the batched and single envs' conservation tests stay quick
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(episode=EPISODE)
def test_the_power_balance_closes(episode):
    """pandapower's full results: slack + generation - storage - load = line and transformer losses."""
    day, actions = episode
    env = make_env(True, "pandapower")
    env.reset(options={"day": day})
    net = env.net
    for flat in actions[:3]:
        _, _, _, _, infos = env.step(split(env, flat))
        if not infos["MG1"]["converged"]:
            continue
        injected = net.res_ext_grid.p_mw.sum() + net.res_sgen.p_mw.sum() - net.res_storage.p_mw.sum()
        consumed = net.res_load.p_mw.sum() + net.res_shunt.p_mw.sum()
        losses = net.res_line.pl_mw.sum() + net.res_trafo.pl_mw.sum()
        assert injected - consumed == pytest.approx(losses, abs=1e-6)
        assert losses >= 0
        np.testing.assert_allclose(net.res_storage.p_mw.to_numpy()[env.storage.element], env.storage.p, atol=1e-12)


class RandomHold(Policy):
    def __init__(self, actions):
        self.actions, self.calls = actions, 0

    def forward(self, obs):
        self.calls += 1
        return np.asarray(self.actions[self.calls % len(self.actions)])


@SETTINGS
@given(episode=EPISODE, interval=st.sampled_from([None, 60.0, 900.0]))
@pytest.mark.slow
def test_event_driven_storage_holds_its_energy_window(episode, interval):
    day, actions = episode
    env = MultiAgentMicrogrids({"train": False, "env_update_interval": interval})
    env.reset(options={"day": day})
    for k, agent in enumerate(env.agent_dict.values()):
        agent.policy = RandomHold([flat[3 * k:3 * k + 3] for flat in actions])
    env.setup_event_driven(seed=day)
    for agent_id in env.registered_agents:  # controllers every 5 min, devices every minute, with jitter
        env.scheduler.register_agent(agent_id, schedule_config=ScheduleConfig.with_jitter(
            tick_interval=300.0 if agent_id in env.agent_dict else 60.0, obs_delay=1.0, act_delay=2.0, jitter_ratio=0.1, seed=day))
    s = env.storage
    for hour in range(1, 5):
        env.run_event_driven(hour * 3600.0)
        assert np.all((s.soc >= -TOL) & (s.soc <= 1 + TOL))
        assert np.all(np.where(s.soc <= TOL, s.p >= 0, True)) and np.all(np.where(s.soc >= 1 - TOL, s.p <= 0, True))
        check_generators(env.generators)


@pytest.mark.parametrize("centralized", [True, False])
@SETTINGS
@given(taps=st.lists(st.tuples(st.integers(-40, 40), st.integers(-9, 9)), min_size=1, max_size=6))
def test_tap_changer_and_capacitor_bank_stay_within_their_ranges(centralized, taps):
    """Discrete devices: any whole-number command lands on a position the device has."""
    env = with_discrete_devices(centralized)
    env.reset(options={"day": 0})
    oltc, cap = env.agent_dict["MG1"].devices["MG1_oltc"], env.agent_dict["MG1"].devices["MG1_cap"]
    for tap, step in taps:
        _, _, _, _, infos = env.step({"MG1": {"c": np.zeros(3), "d": np.array([tap, step])}, "MG2": np.zeros(3), "MG3": np.zeros(3)})
        assert oltc.tap_min <= oltc.tap_pos <= oltc.tap_max and 0 <= cap.step <= cap.max_step
        assert env.backend.trafo_tap[oltc.element] == oltc.tap_pos
        assert env.backend.shunt_q[cap.element] == pytest.approx(-cap.q_step_mvar * cap.step)
        inside = 0 <= tap <= oltc.tap_max - oltc.tap_min and 0 <= step <= cap.max_step
        assert infos["MG1"]["action_clipped"] == (not inside)


@functools.lru_cache(maxsize=None)
def with_discrete_devices(centralized: bool) -> MultiAgentMicrogrids:
    microgrids = load_setup("ieee34_ieee13")["microgrid_configs"]
    microgrids[0]["devices"] += [{"type": "Transformer", "name": "MG1_oltc", "tap_min": -8, "tap_max": 8},
                                 {"type": "Shunt", "name": "MG1_cap", "bus": "675", "q_step_mvar": 0.05, "max_step": 4}]
    return MultiAgentMicrogrids({"train": False, "centralized": centralized, "microgrid_configs": microgrids})
