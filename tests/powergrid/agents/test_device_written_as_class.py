"""A device written as a class with its own physics (the earlier package's example 04, the FAQ's
EVCharger) joins a microgrid and runs in every mode."""
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

from heron.core.feature import FeatureProvider
from heron.protocols.vertical import SetpointProtocol
from powergrid.agents.device_agent import DeviceAgent
from powergrid.agents.power_grid_agent import PowerGridAgent
from powergrid.core.features.connection import PhaseConnection
from powergrid.core.features.electrical import ElectricalBasePh
from powergrid.core.state.state import DeviceState
from powergrid.envs.networked_grid_env import NetworkedGridEnv
from powergrid.networks.ieee13 import IEEE13Bus
from powergrid.utils.phase import PhaseModel

HOURS = 24 * 10
SUN = np.clip(np.sin(np.pi * (np.arange(HOURS) % 24 - 6) / 12), 0.0, None) * 900.0  # W/m2, day-shaped


@dataclass
class Sunlight(FeatureProvider):
    irradiance: float = 0.0
    curtailment: float = 1.0


class Panel(DeviceAgent):
    """A panel of 1000 m2 at 20 %: P = irradiance x area x efficiency x (1 - curtailment); Q as commanded."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    @property
    def bus(self):
        return self.device_config["device_state_config"]["bus"]

    def set_device_action(self):
        self.action.set_specs(dim_c=2, range=(np.array([0.0, -0.05]), np.array([1.0, 0.05])))

    def set_device_state(self):
        self.electrical = ElectricalBasePh(phase_model=PhaseModel.BALANCED_1PH, P_MW=0.0, Q_MVAr=0.0)
        self.sun = Sunlight()
        self.state = DeviceState(owner_id=self.agent_id, owner_level=1,
                                 features=[self.electrical, PhaseConnection(connection="ON"), self.sun])

    def reset_device(self):
        self.electrical.P_MW = self.electrical.Q_MVAr = 0.0
        self.sun.curtailment, self.hour = 1.0, 0

    def update_state(self):
        self.sun.irradiance = float(SUN[self.hour % HOURS])
        self.sun.curtailment = float(self.action.c[0])
        self.electrical.P_MW = self.sun.irradiance * 1000.0 * 0.2 / 1e6 * (1.0 - self.sun.curtailment)
        self.electrical.Q_MVAr = float(self.action.c[1])
        self.hour += 1
        self.calls += 1

    def update_cost_safety(self):
        self.cost, self.safety = 7.0 * self.sun.curtailment, 0.0


class Charger(DeviceAgent):
    """The FAQ's EVCharger: its own ``_execute_local_action``; its P consumes (the load convention)."""

    def __init__(self, agent_id, bus):
        super().__init__(agent_id, bus=bus)
        self.action.set_specs(dim_c=1, range=(0.0, 11.0))  # kW

    def _execute_local_action(self, action):
        self.state.P_MW = float(np.clip(action[0], 0.0, 11.0)) / 1000.0
        self.update_cost_safety()
        self._publish_state_updates()


class WithDevicesOfItsOwn(NetworkedGridEnv):
    def _build_agents(self):
        agent = PowerGridAgent(net=IEEE13Bus("MG1"), env_id=self.env_id, protocol=SetpointProtocol(), grid_config={
            "name": "MG1", "base_power": 1.0, "load_scale": 0.5, "devices": [
                {"type": "ESS", "name": "ess1", "device_state_config": {
                    "bus": "Bus 634", "e_capacity_MWh": 2.0, "p_max_MW": 0.5, "p_min_MW": -0.5, "init_soc": 0.5}}]})
        if self.message_broker is not None:
            agent.set_message_broker(self.message_broker)
        panel = Panel(agent_id="pv1", upstream_id="MG1", env_id=self.env_id,
                      device_config={"name": "pv1", "device_state_config": {"bus": "Bus 645"}})
        agent.devices["pv1"] = panel  # by hand, as the earlier example does
        agent._add_sgen([panel])
        agent.add_storage(Charger("ev1", "Bus 675"))
        hour = np.arange(HOURS)
        agent.add_dataset({"load": 0.8 + 0.2 * np.sin(2 * np.pi * hour / 24), "solar": np.zeros(HOURS), "wind": np.zeros(HOURS),
                           "price": np.full(HOURS, 40.0)})
        return {"MG1": agent}

    def _build_net(self):
        return self.agent_dict["MG1"].net

    def _reward_and_safety(self):
        return {a: -g.cost for a, g in self.agent_dict.items()}, {a: g.safety for a, g in self.agent_dict.items()}


def make(**config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return WithDevicesOfItsOwn({"max_episode_steps": 24, **config})


ACTION = np.array([0.1, 0.25, 0.02, 7.0])  # ess1 P, pv1 curtailment and Q, ev1 kW


def test_its_physics_runs_in_the_step_and_its_power_enters_the_power_flow():
    env = make()
    assert env.action_space("MG1").shape == (4,)
    env.reset(seed=0, options={"day": 0})
    panel, element = env.agent_dict["MG1"].devices["pv1"], env.net.sgen.index[env.net.sgen.name == "pv1"][0]
    assert panel.calls == 0 and panel.electrical.P_MW == 0.0
    for hour in range(13):
        env.step({"MG1": ACTION})
    assert panel.calls == 13 and panel.sun.irradiance == pytest.approx(SUN[12])
    assert panel.electrical.P_MW == pytest.approx(900.0 * 1000 * 0.2 / 1e6 * 0.75)
    assert env.backend.sgen_p[element] == pytest.approx(panel.electrical.P_MW)  # what it delivers is what the network sees
    assert env.backend.sgen_q[element] == pytest.approx(0.02)
    charger = env.net.storage.index[env.net.storage.name == "ev1"][0]
    assert env.backend.storage_p[charger] == pytest.approx(0.007)  # consumes, as a storage element charging


def test_its_cost_counts_and_its_controller_observes_the_features_it_shows():
    env = make()
    env.reset(seed=0, options={"day": 0})
    _, rewards, _, _, infos = env.step({"MG1": ACTION})
    assert infos["MG1"]["cost"] > 7.0 * 0.25  # the panel's curtailment cost with the grid's energy and the ESS's
    names = env.observation_space("MG1").metadata["names"]
    assert {"pv1.state.P_MW", "pv1.state.Q_MVAr", "pv1.state.conn_present", "pv1.state.irradiance", "pv1.state.curtailment"} <= set(names)
    obs, *_ = env.step({"MG1": ACTION})
    assert obs["MG1"][names.index("pv1.state.curtailment")] == pytest.approx(0.25)


def test_distributed_mode_equals_centralized_with_devices_written_as_classes():
    runs = []
    for centralized in (True, False):
        env = make(centralized=centralized)
        obs, _ = env.reset(seed=3, options={"day": 2})
        trace = [obs["MG1"]]
        rng = np.random.default_rng(7)
        for _ in range(24):
            action = env.action_space("MG1").low + rng.random(4) * (env.action_space("MG1").high - env.action_space("MG1").low)
            obs, rewards, *_ = env.step({"MG1": action.astype(np.float64)})
            trace += [obs["MG1"], rewards["MG1"]]
        runs.append(trace)
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_reset_runs_its_own_reset():
    env = make()
    env.reset(seed=0, options={"day": 0})
    for _ in range(3):
        env.step({"MG1": ACTION})
    env.reset(seed=0, options={"day": 0})
    panel = env.agent_dict["MG1"].devices["pv1"]
    assert panel.hour == 0 and panel.electrical.P_MW == 0.0 and panel.sun.curtailment == 1.0


def test_a_batch_refuses_devices_written_as_classes_by_name():
    env = make()
    with pytest.raises(ValueError, match=r"Panel.*one env, not in a batch"):
        env.core.batched(2)


def test_a_device_without_a_continuous_action_or_off_the_net_is_refused_by_name():
    class Still(WithDevicesOfItsOwn):
        def _build_agents(self):
            agents = super()._build_agents()
            agents["MG1"].add_storage(DeviceAgent("meter1", bus="Bus 680"))  # no action
            return agents

    with pytest.raises(ValueError, match=r"'meter1'.*continuous action"):
        Still({"max_episode_steps": 24})

    class Elsewhere(WithDevicesOfItsOwn):
        def _build_agents(self):
            agents = super()._build_agents()
            agents["MG1"].add_storage(Charger("ev2", "Bus 999"))
            return agents

    with pytest.raises(ValueError, match=r"'ev2': bus 'Bus 999' is not a node of MG1"):
        Elsewhere({"max_episode_steps": 24})


def test_features_written_as_dataclasses_read_and_write_through_the_device_state():
    electrical = ElectricalBasePh(P_MW=0.5, Q_MVAr=0.1)
    state = DeviceState("d1", owner_level=1, features=[electrical, Sunlight(irradiance=300.0)])
    assert state.P_MW == 0.5 and state.irradiance == 300.0 and state.owner_level == 1
    state.P_MW = 0.25
    assert electrical.P_MW == 0.25
    np.testing.assert_array_equal(state.vector(), np.array([0.25, 0.1, 300.0, 1.0], dtype=np.float32))
    assert state.names() == ["P_MW", "Q_MVAr", "irradiance", "curtailment"]
    with pytest.raises(ValueError, match="no field 'P_mw'"):
        electrical.set_values(P_mw=1.0)
    with pytest.raises(ValueError, match="three_phase is not modelled"):
        ElectricalBasePh(phase_model=PhaseModel.THREE_PHASE, P_MW=0.0)
    with pytest.raises(ValueError, match="connection must be 'ON' or 'OFF'"):
        PhaseConnection(connection="BC")


def test_event_driven_mode_runs_its_physics_and_solves_with_its_power():
    env = make()
    env.reset(seed=0, options={"day": 0})
    env.setup_event_driven()
    env.setup_default_handlers()
    env.run_event_driven(t_end=3 * 3600.0)
    panel, element = env.agent_dict["MG1"].devices["pv1"], env.net.sgen.index[env.net.sgen.name == "pv1"][0]
    assert panel.calls > 0 and all(h["converged"] for h in env.event_history) and len(env.event_history) == 3
    assert env.backend.sgen_p[element] == pytest.approx(panel.electrical.P_MW)
    assert env.event_history[-1]["cost"]["MG1"] != 0.0


def test_the_earlier_visibility_rule_and_env_clock_as_their_code_reads_them():
    @dataclass
    class Shown(FeatureProvider):
        visibility = ("upper_level",)
        x: float = 1.0

    assert Shown().is_observable_by("MG1", 2, "dev", 1) and not Shown().is_observable_by("dev", 1, "dev", 1)
    assert not Sunlight().is_observable_by("MG1", 2, "dev", 1)  # names no viewers: private to their rule
    env = make()
    env.reset(seed=0, options={"day": 2})
    env.step({"MG1": ACTION})
    assert env._t == 2 * 24 + 1 and env._name == "WithDevicesOfItsOwn"  # the hour the next step plays
