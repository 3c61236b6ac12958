"""Physics first: a device delivers only what it physically can, in every mode, and says so.

The storage exploit these tests pin down: holding MG1's storage at full discharge, the state
of charge hit 0 after two hours, yet 0.15 MW kept flowing into the power flow and the cost,
and MG1 earned about +5 an hour selling energy it did not have. A storage unit works within
its window [soc_min, soc_max]: the earlier package's rule, and what its battery management
allows.
"""
import math

import numpy as np
import pytest

from heron.core.policies import Policy
from powergrid.agents import GeneratorFleet, StorageFleet
from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.batched import BatchedMicrogrids

class HoldPolicy(Policy):
    def __init__(self, action):
        self.action = np.array(action, dtype=float)

    def forward(self, obs):
        return self.action


DISCHARGE_MG1 = {"MG1": [0.0, 0.0, -0.15], "MG2": [0.0, 0.0, 0.0], "MG3": [0.0, 0.0, 0.0]}


def _hold(env, actions, steps):
    env.reset(options={"day": 0})
    out = []
    for _ in range(steps):
        out.append(env.step({a: np.array(v) for a, v in actions.items()}))
    return out


@pytest.mark.parametrize("centralized", [True, False])
def test_storage_stops_at_the_bottom_of_its_window(centralized):
    """soc_min and soc_max are the unit's operating window (its battery management), as in the
    earlier package: below soc_min it delivers nothing, and nothing is penalised."""
    env = MultiAgentMicrogrids({"setup": "ieee34_ieee13_simbench", "train": False, "centralized": centralized})
    ess = env.storage
    idle = _hold(MultiAgentMicrogrids({"setup": "ieee34_ieee13_simbench", "train": False}), {a: [0, 0, 0] for a in DISCHARGE_MG1}, 6)
    results = _hold(env, DISCHARGE_MG1, 6)
    assert ess.soc[0] == pytest.approx(0.1, abs=1e-12)  # soc_min
    for (_, rewards, _, _, infos), (_, idle_rewards, _, _, idle_infos) in zip(results[2:5], idle[2:5]):  # at the bottom from the third hour
        assert ess.p[0] == 0.0
        assert infos["MG1"]["action_limited"] and not infos["MG1"]["action_clipped"]
        assert infos["MG1"]["delivered_action"][2] == 0.0
        assert infos["MG1"]["safety"] == pytest.approx(idle_infos["MG1"]["safety"], abs=1e-9)  # no soc violation
        assert rewards["MG1"] == pytest.approx(idle_rewards["MG1"], abs=1e-9)
    # the second hour empties what was left above soc_min: exactly that energy, nothing more
    _, _, _, _, infos = results[1]
    left_mwh = (0.5 - 0.15 / 0.95 / 0.6 - 0.1) * 0.6
    assert infos["MG1"]["delivered_action"][2] == pytest.approx(-left_mwh * 0.95)


def test_a_full_storage_unit_takes_nothing():
    env = MultiAgentMicrogrids({"train": False})
    results = _hold(env, {"MG1": [0, 0, 0.15], "MG2": [0, 0, 0], "MG3": [0, 0, 0]}, 6)
    assert env.storage.soc[0] == pytest.approx(0.9)  # soc_max
    _, _, _, _, infos = results[-1]
    assert env.storage.p[0] == 0.0 and infos["MG1"]["action_limited"]


def test_state_of_charge_moves_exactly_by_the_delivered_energy():
    fleet = StorageFleet([{"name": "s", "capacity": 2.0, "p_max": 1.0, "soc_init": 0.3, "eff_ch": 0.9, "eff_dis": 0.8}])
    for command, dt_h in [(-1.0, 0.25), (-1.0, 1.0), (0.7, 1.0), (1.0, 2.0), (-0.2, 0.5)]:
        before = float(fleet.soc[0])
        fleet.dispatch(slice(None), np.array([command]), dt_h)
        p = float(fleet.p[0])
        energy = (p * 0.9 if p > 0 else p / 0.8) * dt_h
        assert float(fleet.soc[0]) == pytest.approx(before + energy / 2.0, abs=1e-12)
        assert 0.0 <= fleet.soc[0] <= 1.0
        assert abs(p) <= abs(command) and p * command >= 0


def test_generators_stay_within_apparent_power_and_power_factor():
    fleet = GeneratorFleet([{"name": "g", "p_max": 0.3, "q_min": -0.15, "q_max": 0.15, "s_max": 0.33, "pf_min": 0.8}])
    for p, q in [(0.3, 0.15), (0.3, -0.15), (0.05, 0.15), (0.0, -0.1), (0.2, 0.1)]:
        fleet.dispatch(slice(None), np.array([p]), np.array([q]))
        dp, dq = float(fleet.p[0]), float(fleet.q[0])
        assert math.hypot(dp, dq) <= 0.33 + 1e-12
        assert abs(dq) <= 0.75 * dp + 1e-12  # pf >= 0.8
        assert dp == pytest.approx(p)  # active power has priority; reactive power gives way
    fleet.dispatch(slice(None), np.array([0.2]), np.array([0.1]))
    assert (fleet.p[0], fleet.q[0]) == (0.2, 0.1)  # feasible commands pass unchanged


def test_generator_limits_show_in_infos():
    env = MultiAgentMicrogrids({"setup": "ieee34_ieee13_simbench", "train": False})
    env.reset(options={"day": 0})
    _, _, _, _, infos = env.step({"MG1": np.array([0.3, 0.15, 0.0]), "MG2": np.zeros(3), "MG3": np.zeros(3)})
    delivered = infos["MG1"]["delivered_action"]
    assert infos["MG1"]["action_limited"] and not infos["MG1"]["action_clipped"]
    assert delivered[0] == 0.3 and delivered[1] == pytest.approx(math.sqrt(0.33 ** 2 - 0.09))
    assert not infos["MG2"]["action_limited"]


@pytest.mark.parametrize("bound", ["low", "high"])
def test_actions_at_the_float32_bounds_are_not_flagged(bound):
    env = MultiAgentMicrogrids({"train": False})
    env.reset(options={"day": 0})
    actions = {a: getattr(env.action_space(a), bound) for a in env.agents}
    _, _, _, _, infos = env.step(actions)
    assert not any(i["action_clipped"] for i in infos.values())
    batch = BatchedMicrogrids(2, {"train": False})
    batch.reset(seed=0)
    _, _, _, _, infos = batch.step({a: np.tile(getattr(batch.action_space(a), bound), (2, 1)) for a in batch.possible_agents})
    assert not infos["action_clipped"].any()
    _, _, _, _, infos = env.step({a: getattr(env.action_space(a), bound) * 1.01 for a in env.agents})
    assert all(i["action_clipped"] for i in infos.values())


def test_the_batched_env_delivers_what_the_single_env_does():
    batch = BatchedMicrogrids(2, {"train": False})
    batch.reset(seed=0, options={"day": 0})
    joint = np.zeros((2, 9))
    joint[0, 2] = -0.15
    for _ in range(4):
        _, rewards, _, _, infos = batch.step(joint)
    assert batch.core.storage.soc[0, 0] == pytest.approx(0.1, abs=1e-12)  # soc_min
    assert infos["action_limited"][0, 0] and not infos["action_limited"][1].any()
    assert infos["delivered_action"][0, 2] == 0.0
    assert rewards["MG1"][0] == pytest.approx(rewards["MG1"][1], abs=1e-6)  # at soc_min it is an idle unit


def test_event_driven_storage_never_delivers_energy_it_does_not_hold():
    env = MultiAgentMicrogrids({"train": False, "env_update_interval": 60.0})
    env.reset(options={"day": 0})
    for agent_id, agent in env.agent_dict.items():
        agent.policy = HoldPolicy(DISCHARGE_MG1[agent_id])
    env.setup_event_driven(seed=0)
    env.run_event_driven(4 * 3600.0)  # 0.2 MWh above soc_min, 0.4 MWh asked for
    assert env.storage.soc[0] == pytest.approx(0.1, abs=1e-9)  # soc_min
    assert env.storage.p[0] == 0.0


def test_generators_that_could_never_be_feasible_are_refused():
    with pytest.raises(ValueError, match="'g'.*s_max"):
        GeneratorFleet([{"name": "g", "p_min": 0.4, "p_max": 0.5, "s_max": 0.3}])
    with pytest.raises(ValueError, match="'g'.*q_min <= 0 <= q_max"):
        GeneratorFleet([{"name": "g", "p_max": 0.5, "q_min": 0.1, "q_max": 0.2}])


def _charge_all_day(env, day=0):
    """MG1 charges at full power every hour of an episode; returns the last step's outputs."""
    env.reset(options={"day": day})
    charge = {a: np.zeros(env.action_space(a).shape) for a in env.possible_agents}
    charge["MG1"][2] = env.action_space("MG1").high[2]
    while env.agents:
        out = env.step(charge)
    return out


@pytest.mark.parametrize("centralized", [True, False])
def test_energy_left_in_storage_at_the_end_is_worth_the_episodes_mean_price(centralized):
    """Energy a unit holds at the end of an episode beyond what it started with is credited (and
    energy drawn from it debited) at the episode's mean price: draining storage in the last
    hour is neither free energy nor a loss a planner with foresight could ignore."""
    config = {"train": False, "max_episode_steps": 6, "centralized": centralized}
    env = MultiAgentMicrogrids(config)
    _, rewards, _, truncations, infos = _charge_all_day(env)
    assert truncations["MG1"]
    s = env.storage
    gained_mwh = (s.soc[0] - s.soc_init[0]) * s.capacity[0]
    prices = env.core.model.profiles["test"][1:7, env.core.model.price_series]
    assert gained_mwh > 0.1
    assert infos["MG1"]["stored_energy_credit"] == pytest.approx(gained_mwh * prices.mean(), rel=1e-12)
    assert infos["MG2"]["stored_energy_credit"] == 0.0  # idle: it ends where it began
    plain = MultiAgentMicrogrids({**config, "stored_energy_value": 0.0})  # the earlier package's rule: no value
    _, plain_rewards, _, _, plain_infos = _charge_all_day(plain)
    assert plain_infos["MG1"]["stored_energy_credit"] == 0.0
    assert rewards["MG1"] == pytest.approx(plain_rewards["MG1"] + infos["MG1"]["stored_energy_credit"], abs=1e-9)
    assert infos["MG1"]["cost"] == pytest.approx(plain_infos["MG1"]["cost"] - infos["MG1"]["stored_energy_credit"], abs=1e-9)
    fixed = MultiAgentMicrogrids({**config, "stored_energy_value": 40.0})
    _, _, _, _, fixed_infos = _charge_all_day(fixed)
    assert fixed_infos["MG1"]["stored_energy_credit"] == pytest.approx(40.0 * gained_mwh, rel=1e-12)


def test_the_batched_env_credits_stored_energy_as_the_single_env_does():
    config = {"train": False, "max_episode_steps": 6}
    single = MultiAgentMicrogrids(config)
    _, rewards, _, _, infos = _charge_all_day(single, day=2)
    batch = BatchedMicrogrids(3, config)
    batch.reset(options={"day": 2})
    joint = np.zeros((3, 9))
    joint[1, 2] = 0.1
    for _ in range(6):
        _, batch_rewards, _, _, batch_infos = batch.step(joint)
    assert batch_infos["stored_energy_credit"][1, 0] == pytest.approx(infos["MG1"]["stored_energy_credit"], rel=1e-9)
    assert batch_rewards["MG1"][1] == pytest.approx(rewards["MG1"], rel=1e-6)
    assert batch_infos["stored_energy_credit"][0].tolist() == [0.0, 0.0, 0.0]


def test_stored_energy_value_is_checked():
    with pytest.raises(ValueError, match="stored_energy_value"):
        MultiAgentMicrogrids({"stored_energy_value": -1.0})
    with pytest.raises(ValueError, match="stored_energy_value"):
        MultiAgentMicrogrids({"stored_energy_value": "median"})
