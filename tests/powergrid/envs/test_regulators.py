"""The operator network's step-voltage regulators: automatic, as a utility's are.

Each regulator steps its tap changer until the bus it regulates lies within its band around
its set point (dso_config ``regulator_setpoint``, ``regulator_band``); with the set point
None they hold the taps of ``regulator_taps``. On both shipped setups this keeps every
microgrid bus within 0.95-1.05 pu when the agents do nothing, all year.
"""
import numpy as np
import pytest

from powergrid.baselines.optimum import passive_schedule
from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.batched import BatchedMicrogrids
from powergrid.setups import get_available_setups, load_setup


@pytest.mark.parametrize("name", get_available_setups())
def test_idle_microgrids_stay_in_band_all_year(name):
    env = MultiAgentMicrogrids({**load_setup(name), "train": False, "max_episode_steps": 24})
    days = env.core.days()
    worst = (np.inf, -np.inf)
    for day in range(0, days, 7):
        env.reset(options={"day": day})
        x = passive_schedule(env).injections()
        for t in range(24):
            vm = env.core.probe(t + 1, x[t][None])["vm"][0]
            worst = (min(worst[0], vm.min()), max(worst[1], vm.max()))
    assert 0.95 <= worst[0] and worst[1] <= 1.05, worst


def test_each_regulator_holds_its_bus_within_its_band():
    env = MultiAgentMicrogrids({"train": False})
    reg = env.core.model.regulation
    assert reg is not None and len(reg.trafo) == 2
    env.reset(options={"day": 5})
    rng = np.random.default_rng(0)
    moved = set()
    for _ in range(24):
        env.step({a: rng.uniform(env.action_space(a).low, env.action_space(a).high) for a in env.agents})
        vm = env.backend.result.vm_pu[reg.bus]
        taps = env.backend.trafo_tap[reg.trafo]
        at_limit = (taps == reg.tap_min) | (taps == reg.tap_max)
        assert np.all((np.abs(vm - reg.setpoint) <= reg.band) | at_limit), (vm, taps)
        moved |= {tuple(taps.tolist())}
    assert len(moved) > 1  # the taps followed the day's load


def test_fixed_taps_without_a_set_point():
    setup = load_setup("ieee34_ieee13")
    fixed = MultiAgentMicrogrids({**setup, "train": False, "dso_config": {**setup["dso_config"], "regulator_setpoint": None}})
    assert fixed.core.model.regulation is None
    fixed.reset(options={"day": 0})
    taps = fixed.backend.trafo_tap.copy()
    for _ in range(12):
        fixed.step({a: np.zeros(3) for a in fixed.agents})
    np.testing.assert_array_equal(fixed.backend.trafo_tap, taps)


def test_the_batch_regulates_as_the_single_env_does():
    config = {"train": False}
    single, batch = MultiAgentMicrogrids(config), BatchedMicrogrids(2, config)
    single.reset(options={"day": 9})
    batch.reset(options={"day": 9})
    rng = np.random.default_rng(1)
    reg = single.core.model.regulation
    for _ in range(23):  # the 24th step ends the episode, and a batch's copies start their next days
        actions = {a: rng.uniform(single.action_space(a).low, single.action_space(a).high) for a in single.agents}
        _, rewards, _, _, _ = single.step(actions)
        _, batch_rewards, _, _, _ = batch.step({a: np.tile(v, (2, 1)) for a, v in actions.items()})
        np.testing.assert_array_equal(batch.backend.trafo_tap[:, reg.trafo], np.tile(single.backend.trafo_tap[reg.trafo], (2, 1)))
        for a in rewards:
            assert batch_rewards[a][0] == pytest.approx(rewards[a], abs=1e-5)


def test_a_step_that_fails_puts_the_taps_back():
    env = MultiAgentMicrogrids({"train": False})
    env.reset(options={"day": 3})
    for _ in range(5):
        env.step({a: np.zeros(3) for a in env.agents})
    taps = env.backend.trafo_tap.copy()
    with pytest.raises(ValueError):
        env.step({a: np.full(3, np.nan) for a in env.agents})
    np.testing.assert_array_equal(env.backend.trafo_tap, taps)


@pytest.mark.parametrize("change, match", [
    ({"regulator_setpoint": 1.5}, r"regulator_setpoint"),
    ({"regulator_band": 0.001}, r"regulator_band.*half a tap step"),
    ({"regulator_band": "wide"}, r"regulator_band"),
    ({"network": "IEEE34", "regulator_setpoint": "1.0"}, r"regulator_setpoint"),
])
def test_bad_regulator_settings_are_named(change, match):
    setup = load_setup("ieee34_ieee13")
    with pytest.raises(ValueError, match=match):
        MultiAgentMicrogrids({**setup, "dso_config": {**setup["dso_config"], **change}})


def _batch_with_rounds_in(where: str, monkeypatch, num_envs: int = 12) -> BatchedMicrogrids:
    """A batch whose regulators are stepped inside the Newton kernel (``"kernel"``) or by the
    Python rounds after each solve (``"python"``, as for lightsim2grid)."""
    from powergrid.powerflow.base import PowerFlowBackend
    from powergrid.powerflow.batched import BatchedNewtonBackend

    with monkeypatch.context() as patch:
        if where == "python":
            patch.setattr(BatchedNewtonBackend, "take_regulation", PowerFlowBackend.take_regulation)
        batch = BatchedMicrogrids(num_envs, {"train": False})
    assert batch.core._backend_regulates == (where == "kernel")
    return batch


def _run(batch: BatchedMicrogrids, steps: int, max_iter: int | None = None) -> list[tuple[np.ndarray, ...]]:
    if max_iter is not None:
        batch.backend.max_iter = max_iter
    batch.reset(seed=7)
    rng = np.random.default_rng(3)
    B, seen = batch.num_envs, []
    for _ in range(steps):
        actions = {a: rng.uniform(batch.action_space(a).low, batch.action_space(a).high, (B,) + batch.action_space(a).shape)
                   for a in batch.possible_agents}
        _, rewards, _, _, infos = batch.step(actions)
        seen.append((batch.backend.trafo_tap.copy(), batch.core.results["vm"].copy(), batch.reward_array.copy(), infos["converged"]))
    return seen


def test_the_kernel_steps_the_regulators_as_the_rounds_after_each_solve_do(monkeypatch):
    kernel, python = (_run(_batch_with_rounds_in(where, monkeypatch), 20) for where in ("kernel", "python"))
    moved = 0
    for (taps, vm, reward, converged), (taps_py, vm_py, reward_py, converged_py) in zip(kernel, python):
        assert converged.all() and converged_py.all()
        np.testing.assert_array_equal(taps, taps_py)
        np.testing.assert_allclose(vm, vm_py, rtol=0, atol=1e-9)
        np.testing.assert_allclose(reward, reward_py, rtol=1e-9, atol=1e-9)
        moved += int((taps != kernel[0][0]).any(axis=1).sum())
    assert moved > 0  # the taps did move: the rounds were exercised


def test_a_copy_the_kernel_gives_up_on_is_regulated_after_the_fallback_solves_it(monkeypatch):
    """One Newton step is too few for most copies: the fallback solves them, and their
    regulators are stepped from there (in the kernel, or by the rounds after each solve)."""
    kernel_batch, python_batch = (_batch_with_rounds_in(where, monkeypatch, 4) for where in ("kernel", "python"))
    kernel, python = _run(kernel_batch, 8, max_iter=1), _run(python_batch, 8, max_iter=1)
    assert kernel_batch.backend.fallback_solves > 0
    for (taps, vm, _, converged), (taps_py, vm_py, _, converged_py) in zip(kernel, python):
        assert converged.all() and converged_py.all()
        np.testing.assert_array_equal(taps, taps_py)
        np.testing.assert_allclose(vm, vm_py, rtol=0, atol=1e-6)
    reg = kernel_batch.core.model.regulation
    vm = kernel_batch.backend.result.vm_pu[:, reg.bus]
    taps = kernel_batch.backend.trafo_tap[:, reg.trafo]
    assert np.all((np.abs(vm - reg.setpoint) <= reg.band) | (taps == reg.tap_min) | (taps == reg.tap_max))


def test_the_single_env_on_the_newton_kernel_regulates_as_on_lightsim2grid():
    """One copy goes through one lane on the calling thread (solve_serial), regulators and all."""
    config = {"train": False}
    lightsim, newton = MultiAgentMicrogrids(config), MultiAgentMicrogrids({**config, "power_flow_backend": "newton"})
    assert newton.core._backend_regulates and not lightsim.core._backend_regulates
    for env in (lightsim, newton):
        env.reset(options={"day": 4})
    rng = np.random.default_rng(5)
    reg = lightsim.core.model.regulation
    moved = set()
    for _ in range(23):
        actions = {a: rng.uniform(lightsim.action_space(a).low, lightsim.action_space(a).high) for a in lightsim.agents}
        _, rewards, _, _, _ = lightsim.step(actions)
        _, newton_rewards, _, _, _ = newton.step(actions)
        np.testing.assert_array_equal(newton.backend.trafo_tap[reg.trafo], lightsim.backend.trafo_tap[reg.trafo])
        np.testing.assert_allclose(newton.backend.result.vm_pu, lightsim.backend.result.vm_pu, rtol=0, atol=1e-7)
        for a in rewards:
            assert newton_rewards[a] == pytest.approx(rewards[a], abs=1e-5)
        moved.add(tuple(newton.backend.trafo_tap[reg.trafo].tolist()))
    assert len(moved) > 1


def test_copies_the_kernel_never_solves_do_not_go_round_forever():
    """With a tolerance the kernel cannot meet, every solve of every copy is the fallback's; the
    regulators' rounds still end (one pass per round at most), with the fallback's results."""
    import signal

    def too_long(*_):
        raise TimeoutError("the solve went round and round")

    batch = BatchedMicrogrids(2, {"train": False})
    batch.reset(seed=0)
    batch.backend.tol = 0.0
    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(60)
    try:
        _, _, _, _, infos = batch.step({a: np.zeros((2,) + batch.action_space(a).shape) for a in batch.possible_agents})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert infos["converged"].all()
    rounds = batch.core.model.regulation.rounds
    assert 2 <= batch.backend.fallback_solves <= 2 * (rounds + 1)
