import pickle
import warnings

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from heron.messaging.memory import InMemoryBroker
from powergrid.envs import MultiAgentMicrogrids, NetworkedGridEnv
from powergrid.setups import get_available_setups, load_dataset, load_setup

warnings.filterwarnings("ignore", category=FutureWarning)
SIMBENCH = "ieee34_ieee13_simbench"  # the setup with dispatchable generators, PV and wind in every microgrid


@pytest.fixture(scope="module")
def env():
    return MultiAgentMicrogrids()


@pytest.fixture(scope="module")
def simbench():
    return MultiAgentMicrogrids({"setup": SIMBENCH})


def test_default_setup(env):
    assert isinstance(env, NetworkedGridEnv)
    assert env.possible_agents == ["MG1", "MG2", "MG3"]
    assert env.centralized and env.max_episode_steps == 24 and len(env.net.bus) == 76
    assert env.action_space("MG1") is env.action_spaces["MG1"] is env.action_space("MG1")
    assert env.action_space("MG1").shape == (3,)  # solar generator P, Q; storage P
    assert env.observation_space("MG2").shape == (23,)
    assert set(env.agent_dict) == {"MG1", "MG2", "MG3"}
    assert set(env.agent_dict["MG1"].devices) == {"solar_1", "ess_1"}
    assert get_available_setups() == ["ieee34_ieee13", "ieee34_ieee13_simbench"]


@pytest.mark.parametrize("centralized", [True, False])
def test_pettingzoo_parallel_api(centralized):
    parallel_api_test(MultiAgentMicrogrids({"centralized": centralized}), num_cycles=30)


def test_observations_match_their_space_and_state(env):
    obs, infos = env.reset(seed=0)
    for _ in range(5):
        for a, o in obs.items():
            assert env.observation_space(a).contains(o)
        obs, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})
    state = env.state()
    assert env.state_space.contains(state) and state.shape == env.state_space.shape


def test_rewards_infos_and_truncation(env):
    env.reset(seed=1)
    for t in range(24):
        obs, rewards, terminations, truncations, infos = env.step({a: env.action_space(a).sample() for a in env.agents})
        for a in rewards:
            assert rewards[a] == pytest.approx(-(infos[a]["cost"] + 10.0 * infos[a]["safety"]))
            assert {"cost", "safety", "converged", "action_clipped"} <= set(infos[a])
    assert all(truncations.values()) and env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def price_index(env):
    """Observation layout: device entries, then load, import, price, ..."""
    return len(env.agent_dict["MG1"].device_fields()) + 2


def test_profiles_advance_one_sample_per_step():
    env = MultiAgentMicrogrids({"train": False, "setup": SIMBENCH})
    env.reset(options={"day": 3})
    series = load_dataset(load_setup(SIMBENCH)["dataset_path"])["test"]["price"]["DA"]
    prices = []
    for _ in range(5):
        obs, *_ = env.step({a: np.zeros(3) for a in env.agents})
        prices.append(obs["MG1"][price_index(env)])
    np.testing.assert_allclose(prices, series[72 + 1:72 + 6], rtol=1e-6)


def test_train_picks_random_days_test_walks_days():
    train = MultiAgentMicrogrids({"train": True})
    starts = set()
    for seed in range(5):
        train.reset(seed=seed)
        starts.add(train.core.start_hour)
    assert len(starts) > 1
    test = MultiAgentMicrogrids({"train": False})
    hours = []
    for _ in range(3):
        test.reset()
        hours.append(test.core.start_hour)
    assert hours == [0, 24, 48]


def test_share_reward_gives_every_agent_the_mean():
    env = MultiAgentMicrogrids({"share_reward": True})
    env.reset(seed=0)
    _, rewards, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert len(set(rewards.values())) == 1


def test_out_of_range_actions_are_clipped_and_flagged(simbench):
    env = simbench
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"MG1": np.array([9.0, 0.0, 0.0]), "MG2": np.zeros(3), "MG3": np.zeros(3)})
    assert infos["MG1"]["action_clipped"] and not infos["MG2"]["action_clipped"]
    assert env.generators.p[0] == pytest.approx(0.3)


def test_bad_actions_raise_naming_the_agent(env):
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"agent 'MG2': action has shape \(2,\), expected \(3,\)"):
        env.step({"MG1": np.zeros(3), "MG2": np.zeros(2), "MG3": np.zeros(3)})
    with pytest.raises(ValueError, match=r"\['MG3'\]: action contains NaN"):
        env.step({"MG1": np.zeros(3), "MG2": np.zeros(3), "MG3": np.array([0.0, np.nan, 0.0])})
    with pytest.raises(ValueError, match="missing"):
        env.step({"MG1": np.zeros(3)})
    with pytest.raises(ValueError, match="agent 'MG1': action must hold numbers, got 'abc'"):
        env.step({"MG1": "abc", "MG2": np.zeros(3), "MG3": np.zeros(3)})
    with pytest.raises(ValueError, match="agent 'MG3': action must hold numbers"):
        env.step({"MG1": np.zeros(3), "MG2": np.zeros(3), "MG3": {"c": ["a", "b", "c"]}})


@pytest.mark.parametrize("options, match", [
    ([3], r"reset options must be a dict, got \[3\]"),
    ({"day": 10_000}, r"options\['day'\] must be in \[0, "),
])
def test_bad_reset_options_raise(options, match):
    from powergrid.envs.batched import BatchedMicrogrids

    for env in (MultiAgentMicrogrids(), BatchedMicrogrids(2)):
        with pytest.raises(ValueError, match=match):
            env.reset(seed=0, options=options)


@pytest.mark.parametrize("config, match", [
    ({"centralised": True}, r"unknown config key\(s\) \['centralised'\]; valid keys: \[.*'centralized'"),
    ({"max_episode_steps": 0}, "max_episode_steps"),
    ({"penalty": -1.0}, "penalty"),
    ({"message_broker": "kafka"}, "message_broker"),
    ({"env_update_interval": -1}, r"'env_update_interval' must be None \(a power flow at every action effect\) or a positive"),
    ({"env_update_interval": 0}, "env_update_interval"),
    ({"env_update_interval": "60"}, "env_update_interval"),
    ({"dso_config": {"voltage": 1.0}}, r"config 'dso_config': unknown key\(s\) \['voltage'\]"),
    ({"microgrid_configs": [{"name": "X"}]}, "missing 'connection_bus'"),
    ({"microgrid_configs": [{"name": 5, "connection_bus": "806", "load_area": "residential", "renew_area": "R1", "devices": []}]},
     r"microgrid_configs\[0\]: name \(the agent id\) must be a non-empty string, got 5"),
])
def test_bad_config_raises(config, match):
    with pytest.raises(ValueError, match=match):
        MultiAgentMicrogrids(config)


def microgrid(**device_overrides):
    cfg = load_setup(SIMBENCH)["microgrid_configs"][:1]
    cfg[0]["devices"][0].update(device_overrides.get("gen", {}))
    cfg[0]["devices"][1].update(device_overrides.get("ess", {}))
    return cfg


@pytest.mark.parametrize("overrides, match", [
    ({"ess": {"capacity": -1.0}}, r"device 'MG1_ess': capacity must be positive"),
    ({"gen": {"p_min": 0.5, "p_max": 0.3}}, r"device 'MG1_gen': needs 0 <= p_min <= p_max"),
    ({"ess": {"soc_max": 1.2}}, r"device 'MG1_ess': needs 0 <= soc_min <= soc_max <= 1"),
    ({"ess": {"capacity": 0.0}}, r"device 'MG1_ess': capacity must be positive"),
    ({"gen": {"p_min": 0.2, "s_max": 0.1}}, r"device 'MG1_gen': needs p_min <= s_max"),
    ({"gen": {"q_min": 0.05}}, r"device 'MG1_gen': needs q_min <= 0 <= q_max"),
])
def test_impossible_device_parameters_name_the_device(overrides, match):
    with pytest.raises(ValueError, match=match):
        MultiAgentMicrogrids({"setup": SIMBENCH, "microgrid_configs": microgrid(**overrides)})


def test_non_convergence_is_penalised_not_raised():
    cfg = load_setup("ieee34_ieee13")["microgrid_configs"]
    for mg in cfg:
        mg["load_scale"] = 40.0
    env = MultiAgentMicrogrids({"microgrid_configs": cfg})
    env.reset(seed=0)
    _, rewards, _, _, infos = env.step({a: np.zeros(3) for a in env.agents})
    assert not infos["MG1"]["converged"]
    assert rewards == {a: -200.0 for a in env.possible_agents}
    assert all(i["safety"] >= 20.0 for i in infos.values())


def test_user_dataset_in_the_earlier_pickle_format(tmp_path):
    hours = 24 * 5
    profile = {"A": np.linspace(0.2, 1.0, hours)}
    data = {split: {"load": {"residential": profile["A"], "commercial": profile["A"], "rural": profile["A"]},
                    "solar": {r: profile["A"] for r in ("R1", "R2", "R3")},
                    "wind": {r: profile["A"] for r in ("R1", "R2", "R3")},
                    "price": {"DA": np.full(hours, 42.0)}} for split in ("train", "test")}
    path = tmp_path / "mine.pkl"
    path.write_bytes(pickle.dumps(data))
    env = MultiAgentMicrogrids({"setup": SIMBENCH, "dataset_path": str(path)})
    obs, _ = env.reset(seed=0)
    assert obs["MG1"][price_index(env)] == pytest.approx(42.0)
    del data["test"]["wind"]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(ValueError, match="test/wind"):
        MultiAgentMicrogrids({"setup": SIMBENCH, "dataset_path": str(path)})


@pytest.mark.slow  # a 1,000-step soak; shorter equality tests stay quick
def test_distributed_matches_centralized_for_1000_steps():
    broker = InMemoryBroker()
    central = MultiAgentMicrogrids({"centralized": True})
    distributed = MultiAgentMicrogrids({"centralized": False, "message_broker": broker})
    assert distributed.message_broker is broker
    for agent in distributed.agent_dict.values():
        assert agent.distributed and not hasattr(agent, "net")
    rng = np.random.default_rng(7)
    steps = 0
    episode = 0
    while steps < 1000:
        oc, _ = central.reset(seed=episode)
        od, _ = distributed.reset(seed=episode)
        episode += 1
        for a in oc:
            np.testing.assert_array_equal(oc[a], od[a])
        while central.agents and steps < 1000:
            actions = {a: rng.uniform(central.action_space(a).low, central.action_space(a).high) for a in central.agents}
            oc, rc, _, tc, ic = central.step(actions)
            od, rd, _, td, idd = distributed.step(actions)
            steps += 1
            for a in rc:
                assert abs(rc[a] - rd[a]) <= 1e-9
                np.testing.assert_allclose(oc[a], od[a], atol=1e-9, rtol=0)
                assert ic[a]["converged"] == idd[a]["converged"]
            assert tc == td
            assert broker.pending_count() == 0  # every message of the step was consumed


def test_distributed_step_message_flow():
    """One proxy per microgrid: per step each controller gets its action and its power-flow
    results, each device with an action publishes one state update, and everything is consumed."""
    from heron.messaging import ChannelManager

    env = MultiAgentMicrogrids({"centralized": False})
    env.reset(seed=0)
    seen = []
    env.message_broker.subscribe(ChannelManager.state_update_channel(env.env_id), lambda m: seen.append(m.sender_id))
    for kind in ("action", "power_flow_results"):
        for a in env.possible_agents:
            channel = (ChannelManager.action_channel("environment", a, env.env_id) if kind == "action"
                       else ChannelManager.power_flow_result_channel(env.env_id, a))
            env.message_broker.subscribe(channel, lambda m, kind=kind: seen.append((kind, m.recipient_id)))
    env.step({a: env.action_space(a).sample() for a in env.possible_agents})
    devices = sorted(d for agent in env.agent_dict.values() for d, dev in agent.devices.items() if dev.action.dim)
    assert sorted(x for x in seen if isinstance(x, str)) == devices
    assert sorted(x for x in seen if isinstance(x, tuple)) == sorted((k, a) for k in ("action", "power_flow_results") for a in env.possible_agents)
    assert all(agent.distributed and not any(d.distributed for d in agent.devices.values()) for agent in env.agent_dict.values())
    assert env.message_broker.pending_count() == 0


def test_p2p_trading_between_microgrids_in_both_modes():
    from heron.protocols.horizontal import PeerToPeerTradingProtocol

    central = NetworkedGridEnv(protocol=PeerToPeerTradingProtocol(trading_fee=0.01))
    distributed = NetworkedGridEnv({"centralized": False}, protocol=PeerToPeerTradingProtocol(trading_fee=0.01))
    plain = NetworkedGridEnv()
    for env in (central, distributed, plain):
        env.reset(seed=0)
    rng = np.random.default_rng(0)
    trades, differs = 0, False
    for _ in range(24):
        actions = {a: rng.uniform(central.action_space(a).low, central.action_space(a).high) for a in central.agents}
        _, rc, *_ = central.step(actions)
        _, rd, *_ = distributed.step(actions)
        _, rp, *_ = plain.step(actions)
        trades += len(central.protocol.last_trades)
        differs |= any(abs(rc[a] - rp[a]) > 1e-9 for a in rc)
        assert all(abs(rc[a] - rd[a]) <= 1e-9 for a in rc)
        assert distributed.message_broker.pending_count() == 0
    assert trades > 0 and differs


def test_only_p2p_is_mediated_by_the_env():
    from heron.protocols import ConsensusProtocol

    with pytest.raises(ValueError, match="P2PTradingProtocol"):
        NetworkedGridEnv(protocol=ConsensusProtocol())


def with_discrete_devices():
    cfg = load_setup("ieee34_ieee13")["microgrid_configs"]
    cfg[0]["devices"] += [{"type": "Transformer", "name": "MG1_oltc", "tap_min": -8, "tap_max": 8, "tap_pos": 0},
                          {"type": "Shunt", "name": "MG1_cap", "bus": "675", "q_step_mvar": 0.05, "max_step": 4}]
    return cfg


def test_tap_changer_and_capacitor_bank_in_both_modes():
    central = MultiAgentMicrogrids({"microgrid_configs": with_discrete_devices()})
    distributed = MultiAgentMicrogrids({"microgrid_configs": with_discrete_devices(), "centralized": False})
    space = central.action_space("MG1")
    assert space["d"].nvec.tolist() == [17, 5]
    central.reset(seed=0)
    distributed.reset(seed=0)
    actions = {"MG1": {"c": np.zeros(3), "d": np.array([12, 3])}, "MG2": np.zeros(3), "MG3": np.zeros(3)}
    oc, rc, *_ = central.step(actions)
    od, rd, *_ = distributed.step(actions)
    assert central.backend.trafo_tap[central.layout.mg_trafo[0]] == 4  # tap_min + 12
    cap = central.agent_dict["MG1"].devices["MG1_cap"]
    assert central.backend.shunt_q[cap.element] == pytest.approx(-0.15)
    np.testing.assert_array_equal(oc["MG1"], od["MG1"])
    assert rc == pytest.approx(rd, abs=1e-9)
    with pytest.raises(ValueError, match=r"\['MG1'\]: discrete action entries must be whole numbers"):
        central.step({**actions, "MG1": {"c": np.zeros(3), "d": np.array([2.5, 1])}})


def test_bad_discrete_device_parameters():
    cfg = with_discrete_devices()
    cfg[0]["devices"][-2]["tap_pos"] = 20
    with pytest.raises(ValueError, match="device 'MG1_oltc': needs tap_min <= tap_pos <= tap_max"):
        MultiAgentMicrogrids({"microgrid_configs": cfg})


def test_grid_device_prices_exchange_like_the_env():
    from powergrid.agents import Grid

    grid = Grid("MG1_grid", price_area="DA", sell_price_ratio=0.5)
    assert grid.energy_cost(0.2, 50.0, 1.0) == pytest.approx(10.0)
    assert grid.energy_cost(-0.2, 50.0, 1.0) == pytest.approx(-5.0)
    env = MultiAgentMicrogrids({"sell_price_ratio": 0.5})
    np.testing.assert_allclose(env.core.grid_cost(np.array([0.2, -0.2]), 50.0), [10.0, -5.0])
    with pytest.raises(ValueError, match="sell_price_ratio"):
        Grid("bad", sell_price_ratio=2.0)


def test_a_loaded_setup_is_a_valid_config():
    """``load_setup``'s output (with its ``description``) was rejected as an unknown key."""
    loaded = MultiAgentMicrogrids(load_setup("ieee34_ieee13"))
    default = MultiAgentMicrogrids({"max_episode_steps": 96})
    a, _ = loaded.reset(seed=0)
    b, _ = default.reset(seed=0)
    for agent in default.possible_agents:
        np.testing.assert_array_equal(a[agent], b[agent])
    with pytest.raises(ValueError, match="'description' must be text"):
        MultiAgentMicrogrids({"description": 5})


def test_a_missing_dataset_raises_file_not_found_naming_it(tmp_path):
    missing = tmp_path / "nope.pkl"
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        load_dataset(missing)
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        MultiAgentMicrogrids({"dataset_path": str(missing)})


@pytest.mark.parametrize("centralized", [True, False])
def test_a_power_flow_that_fails_at_reset_is_reported(centralized):
    cfg = load_setup("ieee34_ieee13")["microgrid_configs"]
    for mg in cfg:
        mg["load_scale"] = 40.0
    env = MultiAgentMicrogrids({"microgrid_configs": cfg, "centralized": centralized})
    _, infos = env.reset(seed=0)
    assert all(i == {"converged": False} for i in infos.values())
    _, infos = MultiAgentMicrogrids({"centralized": centralized}).reset(seed=0)
    assert all(i == {"converged": True} for i in infos.values())


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_a_bad_seed_is_named(env, seed):
    with pytest.raises(ValueError, match="seed must be None or a non-negative integer"):
        env.reset(seed=seed)


def test_two_envs_cannot_share_an_env_id_on_one_broker():
    broker = InMemoryBroker()
    first = MultiAgentMicrogrids({"centralized": False, "message_broker": broker, "env_id": "grid"})
    with pytest.raises(ValueError, match="env_id 'grid' is already in use by another owner in this process"):
        MultiAgentMicrogrids({"centralized": False, "message_broker": broker, "env_id": "grid"})
    MultiAgentMicrogrids({"centralized": False, "message_broker": broker, "env_id": "other"})
    MultiAgentMicrogrids({"centralized": False, "message_broker": InMemoryBroker(), "env_id": "grid"})  # another broker
    first.close()
    MultiAgentMicrogrids({"centralized": False, "message_broker": broker, "env_id": "grid"})  # released
