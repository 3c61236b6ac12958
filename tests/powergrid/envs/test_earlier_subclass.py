"""An env subclass written the earlier package's way (its example 01): agents first, with their nets and data."""
import warnings

import numpy as np
import pytest

from heron.protocols.vertical import SetpointProtocol
from powergrid.agents.power_grid_agent import PowerGridAgent
from powergrid.envs.networked_grid_env import NetworkedGridEnv
from powergrid.networks.ieee13 import IEEE13Bus

HOURS = 24 * 10


class SingleMicrogrid(NetworkedGridEnv):
    def _build_agents(self):
        agent = PowerGridAgent(net=IEEE13Bus("MG1"), env_id=self.env_id, protocol=SetpointProtocol(), grid_config={
            "name": "MG1", "base_power": 1.0, "load_scale": 0.5,
            "devices": [
                {"type": "Generator", "name": "gen1", "device_state_config": {
                    "bus": "Bus 633", "p_max_MW": 2.0, "p_min_MW": 0.5, "q_max_MVAr": 1.0, "q_min_MVAr": -1.0,
                    "s_rated_MVA": 2.5, "cost_curve_coefs": [0.02, 10.0, 0.0]}},
                {"type": "ESS", "name": "ess1", "device_state_config": {
                    "bus": "Bus 634", "e_capacity_MWh": 5.0, "soc_max": 0.9, "soc_min": 0.1, "p_max_MW": 1.0,
                    "p_min_MW": -1.0, "init_soc": 0.5, "ch_eff": 0.95, "dsc_eff": 0.95}}]})
        if self.message_broker is not None:
            agent.set_message_broker(self.message_broker)
        hour = np.arange(HOURS)
        agent.add_dataset({"load": 0.8 + 0.3 * np.sin(2 * np.pi * hour / 24), "solar": np.zeros(HOURS),
                           "wind": np.zeros(HOURS), "price": np.full(HOURS, 50.0)})
        return {"MG1": agent}

    def _build_net(self):
        return self.agent_dict["MG1"].net

    def _reward_and_safety(self):
        return ({a: -agent.cost for a, agent in self.agent_dict.items()},
                {a: agent.safety for a, agent in self.agent_dict.items()})


def make(**config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return SingleMicrogrid({"max_episode_steps": 24, "protocol": SetpointProtocol(), **config})


def test_the_subclass_runs_on_its_agents_devices_and_data():
    env = make()
    assert env.possible_agents == ["MG1"] and env.action_space("MG1").shape == (3,)
    mg1 = env.agent_dict["MG1"]
    assert isinstance(mg1, PowerGridAgent) and env.net is not mg1.net  # the model works on its own copy
    obs, _ = env.reset(seed=42)
    assert obs["MG1"].shape == env.observation_space("MG1").shape
    names = env.observation_space("MG1").metadata["names"]
    total = 0.0
    for t in range(24):
        obs, rewards, terminations, truncations, infos = env.step({"MG1": np.array([1.0, 0.0, -0.05])})
        total += rewards["MG1"]
        assert rewards["MG1"] == pytest.approx(-mg1.cost) and infos["MG1"]["safety"] == mg1.safety
        assert obs["MG1"][names.index("price")] == pytest.approx(50.0)
    assert terminations["__all__"] and total < 0
    assert mg1.devices["gen1"].state.to_dict() == {"power": {"P_MW": 1.0, "Q_MVAR": 0.0}}
    assert mg1.devices["ess1"].state.soc == pytest.approx(0.5 - 24 * 0.05 / 0.95 / 5.0, abs=1e-9)


def test_its_import_is_metered_where_its_own_grid_feeds_it():
    env = make()
    env.reset(seed=0)
    obs, *_ = env.step({"MG1": np.array([0.5, 0.0, 0.0])})
    names = env.observation_space("MG1").metadata["names"]
    p_import = obs["MG1"][names.index("p_import")]
    load = obs["MG1"][names.index("load_p")]
    assert 0 < p_import and p_import == pytest.approx(load - 0.5, abs=0.05)  # losses are small
    assert "Meter of MG1" in env.net.trafo.name.values


def test_distributed_mode_matches_centralized_for_the_subclass():
    central, distributed = make(), make(centralized=False)
    a, _ = central.reset(seed=1)
    b, _ = distributed.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(12):
        action = {"MG1": rng.uniform(central.action_space("MG1").low, central.action_space("MG1").high)}
        a, ra, *_ = central.step(action)
        b, rb, *_ = distributed.step(action)
        np.testing.assert_allclose(a["MG1"], b["MG1"], rtol=1e-6)
        assert ra["MG1"] == pytest.approx(rb["MG1"], abs=1e-9)


def test_agents_without_data_or_fed_twice_are_named():
    class NoData(SingleMicrogrid):
        def _build_agents(self):
            agents = super()._build_agents()
            agents["MG1"].dataset = None
            return agents

    with pytest.raises(ValueError, match="agent 'MG1' has no dataset"):
        NoData({"max_episode_steps": 24})


def test_overriding_build_net_alone_keeps_this_package_s_order():
    from powergrid.core.model import GridModel

    class OwnModel(NetworkedGridEnv):
        def _build_net(self):
            self.model = GridModel.build({**self.config, "setup": "ieee34_ieee13_simbench"})
            return self.model.net

    env = OwnModel()
    assert not env.agents_first and set(env.agent_dict["MG1"].devices) == {"MG1_gen", "MG1_ess", "MG1_pv", "MG1_wind"}
    env.reset(seed=0)
    env.step({a: np.zeros(3) for a in env.agents})
