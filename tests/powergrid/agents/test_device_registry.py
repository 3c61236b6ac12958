"""A device type of your own is one module plus its registration (examples/ev_charger.py), and
then works like a built-in one in every mode."""
import pathlib
import runpy

import numpy as np
import pytest

from heron.core.policies import Policy
from powergrid.agents.registry import DeviceType, register_device_type
from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.batched import BatchedMicrogrids

EXAMPLE = runpy.run_path(str(pathlib.Path(__file__).resolve().parents[3] / "examples" / "ev_charger.py"))
config_with_a_charger = EXAMPLE["config_with_a_charger"]


def actions(t):
    return {"MG1": np.array([0.1, 0.02, 0.05 * np.sin(t), 0.004 + 0.004 * np.cos(t)]), "MG2": np.zeros(3),
            "MG3": np.array([0.05, 0.0, -0.05])}


def test_the_charger_has_its_action_observations_and_physics():
    env = MultiAgentMicrogrids(config_with_a_charger())
    obs, _ = env.reset(seed=0)
    assert env.action_space("MG1").shape == (4,) and env.action_space("MG1").high[3] == pytest.approx(0.011)
    names = env.observation_space("MG1").metadata["names"]
    assert "MG1_ev.P_MW" in names and "MG1_ev.soc" in names
    ev = env.core.fleets["ev_charger"]
    soc = [ev.soc[0]]
    for t in range(24):
        _, _, _, _, infos = env.step({**actions(t), "MG1": np.array([0.1, 0.0, 0.0, 1.0])})  # asks for more than 11 kW
        soc.append(ev.soc[0])
        assert 0.0 <= ev.p[0] <= 0.011 and infos["MG1"]["action_clipped"]
        assert env.backend.storage_p[ev.element[0]] == ev.p[0]  # what it draws is what the power flow sees
    assert soc[-1] == pytest.approx(1.0) and np.all(np.diff(soc) >= 0)
    # a full battery takes no more: the last steps deliver nothing, flagged as limited
    assert ev.p[0] == 0.0 and infos["MG1"]["action_limited"]


def test_the_charger_gives_the_same_results_centralized_and_distributed():
    central, distributed = MultiAgentMicrogrids(config_with_a_charger(True)), MultiAgentMicrogrids(config_with_a_charger(False))
    for env in (central, distributed):
        env.reset(seed=0)
    for t in range(24):
        o1, r1, *_ = central.step(actions(t))
        o2, r2, *_ = distributed.step(actions(t))
        for a in r1:
            assert r1[a] == pytest.approx(r2[a], abs=1e-9)
            np.testing.assert_allclose(o1[a], o2[a], atol=1e-6)


def test_the_charger_in_a_batch_steps_as_in_single_envs():
    batch, single = BatchedMicrogrids(2, config_with_a_charger()), MultiAgentMicrogrids(config_with_a_charger())
    batch.reset(seed=0, options={"day": [0, 0]})
    single.reset(seed=0, options={"day": 0})
    for t in range(10):
        joint = {a: np.tile(v, (2, 1)) for a, v in actions(t).items()}
        o1, r1, *_ = batch.step(joint)
        o2, r2, *_ = single.step(actions(t))
        for a in r2:
            np.testing.assert_allclose(r1[a], [r2[a]] * 2, atol=1e-6)
            np.testing.assert_allclose(o1[a], [o2[a]] * 2, atol=1e-5)


class Charge(Policy):
    """Hold MG1's generator at 0.1 MW and charge the car at full rate."""

    def forward(self, obs):
        return np.array([0.1, 0.0, 0.0, 0.011])


@pytest.mark.slow  # 7 s of event-driven run; the charger is covered quickly above
def test_the_charger_charges_in_event_driven_mode():
    env = MultiAgentMicrogrids(config_with_a_charger())
    env.reset(seed=0)
    env.agent_dict["MG1"].policy = Charge()
    for agent in ("MG2", "MG3"):
        env.agent_dict[agent].policy = type("Idle", (Policy,), {"forward": lambda self, obs: np.zeros(3)})()
    env.setup_event_driven(seed=0)
    start = env.core.fleets["ev_charger"].soc[0]
    env.run_event_driven(3 * 3600.0)
    ev = env.core.fleets["ev_charger"]
    # about three hours at 11 kW into a 60 kWh battery at 92 %: the state of charge integrates over time
    assert ev.soc[0] == pytest.approx(start + 3 * 0.011 * 0.92 / 0.06, abs=0.05)
    assert env.event_totals["power_flows"] > 0 and env.event_totals["not_converged"] == 0


def test_a_charger_config_with_a_typo_is_named():
    config = config_with_a_charger()
    config["microgrid_configs"][0]["devices"][-1]["p_mx"] = 0.02
    with pytest.raises(ValueError, match=r"device 'MG1_ev' \(EVCharger\): unknown key\(s\) \['p_mx'\]"):
        MultiAgentMicrogrids(config)


def test_an_alias_of_another_type_is_refused():
    fleet, agent = EXAMPLE["EVChargerFleet"], EXAMPLE["EVCharger"]
    with pytest.raises(ValueError, match=r"name\(s\) \['ESS'\] already name another device type"):
        register_device_type(DeviceType("my_battery", ("ESS",), frozenset(), fleet, agent))
