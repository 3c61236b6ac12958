"""The earlier HERON/PowerGrid's scenario, its config format and its data, as users of it write them."""
import pickle
import warnings

import numpy as np
import pytest

from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import load_dataset, load_setup

EARLIER_YAML = """\
dataset_path: data.pkl
train: true
penalty: 10.0
share_reward: true
max_episode_steps: 48
dso_config:
  name: DSO
  load_area: BANC
  renew_area: NP15
microgrid_configs:
  - name: MG1
    load_area: AVA
    renew_area: NP15
    connection_bus: DSO Bus 850
    base_power: 1.0
    load_scale: 0.1
    devices:
      - name: solar_1
        type: Generator
        bus: Bus 671
        p_max_MW: 0.2
        p_min_MW: 0.0
        q_max_MVAr: 0.1
        q_min_MVAr: -0.1
        s_rated_MVA: 0.25
        renewable_type: solar
        cost_per_MWh: 0.0
      - name: ess_1
        type: ESS
        bus: Bus 680
        e_capacity_MWh: 0.5
        p_ch_max_MW: 0.1
        p_dsc_max_MW: 0.1
        eta_ch: 0.95
        eta_dsc: 0.95
        soc_init: 0.5
        soc_min: 0.1
        soc_max: 0.9
"""


@pytest.fixture(scope="module")
def caiso():
    return load_dataset(load_setup("ieee34_ieee13")["dataset_path"])


@pytest.fixture
def earlier_folder(tmp_path, caiso):
    """A setup folder as the earlier package laid one out: config.yml beside a data.pkl."""
    (tmp_path / "config.yml").write_text(EARLIER_YAML)
    (tmp_path / "data.pkl").write_bytes(pickle.dumps(caiso))
    return tmp_path


def test_the_default_setup_is_the_earlier_scenario_on_caiso_data(caiso):
    setup = load_setup("ieee34_ieee13")
    assert setup["max_episode_steps"] == 96 and setup["share_reward"] is True
    assert [mg["load_area"] for mg in setup["microgrid_configs"]] == ["AVA", "PGE", "SCE-TAC"]
    assert [mg["connection_bus"] for mg in setup["microgrid_configs"]] == ["DSO Bus 850", "DSO Bus 858", "DSO Bus 834"]
    assert len(caiso["train"]["load"]) == 35 and sorted(caiso["train"]["solar"]) == ["NP15", "SP15", "ZP26"]
    assert len(caiso["train"]["load"]["BANC"]) == 8760 and len(caiso["test"]["load"]["BANC"]) == 8784
    assert list(caiso["train"]["price"]) == ["0096WD_7_N001"]
    env = MultiAgentMicrogrids(setup)
    assert env.max_episode_steps == 96
    mg1 = env.agent_dict["MG1"].devices
    assert set(mg1) == {"solar_1", "ess_1"}
    g, s = env.generators, env.storage
    np.testing.assert_allclose(g.p_max, [0.2, 0.25, 0.15])
    np.testing.assert_allclose(g.s_max, [0.25, 0.3, 0.2])
    np.testing.assert_allclose(s.capacity, [0.5, 0.6, 0.4])
    np.testing.assert_allclose(s.p_min, [-0.1, -0.12, -0.08])  # p_dsc_max_MW, as discharge
    np.testing.assert_allclose(s.eff_ch, 0.95)
    default = MultiAgentMicrogrids()
    assert default.agent_dict["MG2"].devices.keys() == env.agent_dict["MG2"].devices.keys()


@pytest.mark.parametrize("centralized", [True, False])
def test_a_solar_generator_delivers_only_what_the_sun_gives(centralized):
    env = MultiAgentMicrogrids({"train": False, "centralized": centralized})
    env.reset(options={"day": 0})
    full = {a: np.array(env.action_space(a).high, dtype=float) for a in env.possible_agents}
    for a in full:
        full[a][2] = 0.0  # storage idle
    delivered, available = [], []
    for _ in range(24):
        _, _, _, _, infos = env.step(full)
        delivered.append(infos["MG1"]["delivered_action"][0])
        solar = env.core.model.profiles["test"][env.core.hour][env.core.model.fleet_series["generator"][0]]
        available.append(0.2 * solar)
    np.testing.assert_allclose(delivered, np.minimum(available, 0.25), atol=1e-12)
    assert min(delivered) == 0.0 and max(delivered) > 0.05  # night and day


def test_centralized_and_distributed_agree_on_the_default_setup():
    rng = np.random.default_rng(3)
    central, distributed = MultiAgentMicrogrids(), MultiAgentMicrogrids({"centralized": False})
    a, _ = central.reset(seed=5)
    b, _ = distributed.reset(seed=5)
    for _ in range(24):
        actions = {x: rng.uniform(central.action_space(x).low, central.action_space(x).high) for x in central.possible_agents}
        a, ra, _, _, ia = central.step(actions)
        b, rb, _, _, ib = distributed.step(actions)
        for x in central.possible_agents:
            np.testing.assert_array_equal(a[x], b[x])
            assert ra[x] == pytest.approx(rb[x], abs=1e-9)
            np.testing.assert_allclose(ia[x]["delivered_action"], ib[x]["delivered_action"], atol=1e-12)


def test_a_setup_folder_in_the_earlier_layout_loads(earlier_folder):
    config = load_setup(earlier_folder)
    assert config["dataset_path"] == str((earlier_folder / "data.pkl").resolve())
    env = MultiAgentMicrogrids(config)
    obs, _ = env.reset(seed=0)
    assert env.possible_agents == ["MG1"] and env.max_episode_steps == 48 and obs["MG1"].shape == (23,)
    assert load_setup(earlier_folder / "config.yml") == config


def test_dataset_path_may_point_at_the_earlier_pickle(earlier_folder):
    env = MultiAgentMicrogrids({"dataset_path": str(earlier_folder / "data.pkl")})
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"MG1", "MG2", "MG3"}


def test_earlier_device_configs_wrapped_in_device_state_config():
    mg = load_setup("ieee34_ieee13")["microgrid_configs"][:1]
    solar, ess = mg[0]["devices"]
    mg[0]["devices"] = [{"type": "Generator", "name": "solar_1", "device_state_config": {k: v for k, v in solar.items()
                                                                                          if k not in ("type", "name")}},
                        ess]
    env = MultiAgentMicrogrids({"microgrid_configs": mg})
    assert env.generators.p_max[0] == 0.2 and env.generators.s_max[0] == 0.25


@pytest.mark.parametrize("change, match", [
    ({"p_max_mw": 0.2}, r"device 'solar_1' \(Generator\): unknown key\(s\) \['p_max_mw'\]"),
    ({"p_max": 0.3}, r"device 'solar_1': 'p_max' is given twice"),
    ({"renewable_type": "tidal"}, r"device 'solar_1': source must be 'solar', 'wind' or absent"),
    ({"p_min_MW": 0.1}, r"device 'solar_1': a solar generator needs p_min = 0"),
    ({"cost_per_MWh": 5.0, "cost_curve_coefs": [0, 1, 0]}, r"'cost' is given twice"),
])
def test_earlier_keys_with_a_typo_or_a_clash_are_named(change, match):
    mg = load_setup("ieee34_ieee13")["microgrid_configs"][:1]
    mg[0]["devices"][0].update(change)
    with pytest.raises(ValueError, match=match):
        MultiAgentMicrogrids({"microgrid_configs": mg})


@pytest.mark.parametrize("value", [np.array([1.0, 2.0]), [0.1], -0.2])
def test_one_value_under_two_names_that_differ_is_named(value):
    """The storage unit's discharge limit given as p_dsc_max_MW and again as p_min_MW (found by
    the fuzz suite: an array raised numpy's 'truth value ... ambiguous')."""
    mg = load_setup("ieee34_ieee13")["microgrid_configs"][:1]
    mg[0]["devices"][1]["p_min_MW"] = value
    with pytest.raises(ValueError, match=r"device 'ess_1': 'p_min' is given twice"):
        MultiAgentMicrogrids({"microgrid_configs": mg})


def test_what_is_not_modelled_is_named_in_a_warning():
    mg = load_setup("ieee34_ieee13")["microgrid_configs"][:1]
    mg[0]["devices"][0].update({"renewable_type": None, "startup_time_hr": 1.0, "shutdown_time_hr": 1.0})
    mg[0]["devices"][1].update({"q_max_MVAr": 0.05})
    with pytest.warns(UserWarning, match=r"device 'solar_1': \['shutdown_time_hr', 'startup_time_hr'\] are not modelled"):
        MultiAgentMicrogrids({"microgrid_configs": mg})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MultiAgentMicrogrids()  # the shipped setup has nothing that is not modelled


def test_a_missing_or_unknown_setup_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown setup 'nope'"):
        load_setup("nope")
    (tmp_path / "config.yml").write_text("dataset_path: gone.pkl\n")
    with pytest.raises(FileNotFoundError, match="gone.pkl"):
        load_setup(tmp_path)
    (tmp_path / "config.yml").write_text("a: [1\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_setup(tmp_path)
    (tmp_path / "config.yml").write_text("dso_config:\n  name: DSO\n  load_area: BANC\n  price_area: XX\n")
    with pytest.raises(ValueError, match="no price profile for area 'XX'"):
        MultiAgentMicrogrids(load_setup(tmp_path))


def test_a_setup_folder_is_read_again_after_it_changes(earlier_folder):
    """Setups of your own were cached by path: an edited config.yml kept its old values."""
    assert load_setup(earlier_folder)["max_episode_steps"] == 48
    config = earlier_folder / "config.yml"
    config.write_text(config.read_text().replace("max_episode_steps: 48", "max_episode_steps: 72"))
    assert load_setup(earlier_folder)["max_episode_steps"] == 72


@pytest.mark.slow
def test_a_held_solar_command_follows_the_sun_in_event_driven_mode():
    """A solar generator told full power at midnight delivers what each hour's sun gives, hour
    by hour, without a new command."""
    env = MultiAgentMicrogrids({"train": False})
    env.reset(options={"day": 0})
    env.setup_event_driven(seed=0)
    env.apply_action("solar_1", np.array([0.2, 0.0]))
    model, core = env.core.model, env.core
    delivered, available = [], []
    for hour in range(1, 24):
        env.run_event_driven(hour * 3600.0 + 1.0)
        delivered.append(float(env.generators.p[0]))
        available.append(0.2 * model.profiles["test"][core.hour][model.fleet_series["generator"][0]])
    np.testing.assert_allclose(delivered, np.minimum(available, 0.25), atol=1e-12)
    assert min(delivered) == 0.0 and max(delivered) > 0.05


def test_their_device_settings_step_length_phase_model_and_one_value_under_two_names():
    """Their generator tests give ``dt_h``, ``phase_model`` and the power factor under two names;
    each raised an unknown-key or given-twice error here."""
    from powergrid.compat.config_keys import translated_device

    cfg = {"name": "G1", "device_state_config": {"p_max_MW": 1.0, "min_pf": 0.9, "pf_min_abs": 0.9, "phase_model": "balanced_1ph"}}
    assert translated_device("generator", cfg) == {"name": "G1", "p_max": 1.0, "pf_min": 0.9}
    with pytest.warns(UserWarning, match=r"device 'E1': \['dt_h'\] are not modelled"):
        translated_device("storage", {"name": "E1", "e_capacity_MWh": 1.0, "dt_h": 0.25})
    with pytest.raises(ValueError, match="'pf_min' is given twice"):
        translated_device("generator", {"name": "G1", "min_pf": 0.9, "pf_min_abs": 0.8})
    with pytest.raises(ValueError, match="device 'G1': three_phase is not modelled"):
        translated_device("generator", {"name": "G1", "phase_model": "three_phase"})
