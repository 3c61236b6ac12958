"""A step that raises leaves the env as it was: clock, devices, power flow and broker."""
from __future__ import annotations

import numpy as np
import pytest

from powergrid.envs import MultiAgentMicrogrids

ACTIONS = [{a: np.array([0.2 * np.sin(t + k), 0.05, 0.1 * np.cos(t - k)]) for k, a in enumerate(("MG1", "MG2", "MG3"))}
           for t in range(6)]


def _state(env: MultiAgentMicrogrids) -> dict:
    core = env.core
    return {"t": int(core.t), "soc": core.storage.soc.copy(), "gen_p": core.generators.p.copy(), "ess_p": core.storage.p.copy(),
            "vm": core.results["vm"].copy(), "sgen_p": env.backend.sgen_p.copy(), "storage_p": env.backend.storage_p.copy(),
            "obs": env.state(), "pending": env.message_broker.pending_count(env.env_id) if env.message_broker else 0}


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


class Boom(RuntimeError):
    pass


def _fail_once(obj: object, name: str) -> None:
    """``obj.name`` raises ``Boom`` on its next call, then works again."""
    original = getattr(obj, name)

    def failing(*args, **kwargs):
        setattr(obj, name, original)
        raise Boom(name)

    setattr(obj, name, failing)


@pytest.mark.parametrize("centralized, where", [(True, "score"), (False, "report"), (False, "solve"), (False, "publish")])
def test_a_step_that_raises_leaves_the_env_as_before_and_the_next_steps_unshifted(centralized, where):
    cfg = {"centralized": centralized, "train": False}
    env, reference = MultiAgentMicrogrids(cfg), MultiAgentMicrogrids(cfg)
    env.reset(seed=1)
    reference.reset(seed=1)
    for actions in ACTIONS[:2]:
        env.step(actions)
        reference.step(actions)
    before = _state(env)
    target = {"score": (env.core, "score"), "report": (env.exchange.sites["MG2"] if env.exchange else None, "report"),
              "solve": (env.core, "solve"), "publish": (env.message_broker, "publish")}[where]
    if where == "publish":  # fails in the middle of the exchange: the results of MG1 are out, MG2's are not
        broker, original, count = env.message_broker, env.message_broker.publish, [0]

        def publish(channel, message):
            count[0] += 1
            if count[0] == 8:
                broker.publish = original
                raise Boom("publish")
            original(channel, message)

        broker.publish = publish
    else:
        _fail_once(*target)
    with pytest.raises(Boom):
        env.step(ACTIONS[2])
    _same(_state(env), before)
    for actions in ACTIONS[2:]:
        got, want = env.step(actions), reference.step(actions)
        for part in (0, 1):  # observations and rewards, exactly
            for a in want[part]:
                np.testing.assert_array_equal(got[part][a], want[part][a])
    assert env.message_broker is None or env.message_broker.pending_count(env.env_id) == 0


def test_a_state_update_missing_a_field_names_the_device_and_the_field():
    """A device whose state update lacks ``P_MW`` was reported as "device 'P_MW' published no
    state update"."""
    env = MultiAgentMicrogrids({"centralized": False})
    env.reset(seed=0)
    device = env.agent_dict["MG2"].devices["ess_2"]
    full = device.state_update
    device.state_update = lambda: {k: v for k, v in full().items() if k != "P_MW"}
    with pytest.raises(ValueError, match="device 'ess_2': its state update has no 'P_MW'"):
        env.step(ACTIONS[0])
    device.state_update = full
    env.step(ACTIONS[0])  # undone, and goes on


def _joint_actions(batch, seed: int) -> list[np.ndarray]:
    low = np.concatenate([batch.action_space(a).low for a in batch.possible_agents])
    high = np.concatenate([batch.action_space(a).high for a in batch.possible_agents])
    rng = np.random.default_rng(seed)
    return [low + rng.random((batch.num_envs, low.size)) * (high - low) for _ in range(10)]


@pytest.mark.parametrize("where", ["solve", "score", "_first_solve", "stored_energy_credit"])
def test_a_batched_step_that_raises_leaves_the_batch_as_before_and_the_next_steps_unshifted(where):
    """``_first_solve`` fails in the step that ends every copy's episode, after the next
    episodes were drawn: the draws are undone too. ``score`` is the numpy stages' own (the fused
    step scores in its kernel); ``stored_energy_credit`` fails after the fused kernel ran."""
    from powergrid.envs.batched import BatchedMicrogrids

    config, fused = {"max_episode_steps": 3, "train": True}, where != "score"
    batch, reference = BatchedMicrogrids(4, config, fused=fused), BatchedMicrogrids(4, config, fused=fused)
    batch.reset(seed=5)
    reference.reset(seed=5)
    actions = _joint_actions(batch, 0)
    for a in actions[:2]:
        batch.step(a)
        reference.step(a)
    core = batch.core
    before = [x.copy() for x in (core.t, core.start_hour, core.storage.soc, batch.obs_array, batch.reward_array)]
    _fail_once(batch if where == "_first_solve" else core, where)
    with pytest.raises(Boom):
        batch.step(actions[2])
    for was, now in zip(before, (core.t, core.start_hour, core.storage.soc, batch.obs_array, batch.reward_array)):
        np.testing.assert_array_equal(now, was)
    for a in actions[2:]:
        got, want = batch.step(a), reference.step(a)
        np.testing.assert_array_equal(batch.obs_array, reference.obs_array)
        np.testing.assert_array_equal(batch.reward_array, reference.reward_array)
    np.testing.assert_array_equal(core.start_hour, reference.core.start_hour)  # the same episodes were drawn


def test_an_event_whose_handling_raises_leaves_the_grid_as_before_it_and_the_run_goes_on():
    from heron.scheduling.scheduler import EventHandlerError
    from powergrid.__main__ import event_driven_env

    env = event_driven_env(day=10, seed=0)
    env.run_event_driven(1800.0)
    core = env.core

    def grid() -> list:
        totals = [np.copy(v) for v in env.event_totals.values()]
        return [core.storage.soc.copy(), core.storage.p.copy(), core.results["vm"].copy(), env.backend.storage_p.copy(),
                np.array(env._event_clock), np.array(len(env.event_history)), *totals]

    before = grid()
    _fail_once(core, "solve")  # the next power flow: after the effect of an action was integrated and applied
    with pytest.raises(EventHandlerError, match="raised Boom: solve"):
        env.run_event_driven(3 * 3600.0)
    for was, now in zip(before, grid()):
        np.testing.assert_array_equal(now, was)
    env.run_event_driven(3 * 3600.0)  # and on
    assert env.event_totals["power_flows"] > before[8] and env.event_totals["not_converged"] == 0
