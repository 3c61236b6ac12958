"""IEEE 123-node feeder: its data, its reduction, its solution, and its use as an operator network."""
import copy
import json
import warnings

import numpy as np
import pandapower as pp
import pandapower.topology as top
import pytest

from powergrid.envs import MultiAgentMicrogrids
from powergrid.networks import IEEE123Bus, build_operator_network
from powergrid.networks.ieee123 import ieee123_nodes
from powergrid.networks.make_ieee123 import lower_triangle, maxwell, positive_sequence, statements, to_json
from powergrid.setups.loader import load_setup

warnings.filterwarnings("ignore", category=FutureWarning)

# Mean of the three (or fewer) phase voltages, pu, in the OpenDSS reference solution of the
# unbalanced feeder (ieee123_VLN_Node.Txt next to the model the data was derived from).
OPENDSS_PHASE_MEAN_PU = {
    "149": 1.0437, "13": 1.0213, "35": 1.0123, "52": 1.0178, "60": 1.0064, "66": 1.0011, "67": 1.0338,
    "76": 1.0336, "83": 1.0391, "97": 1.0331, "108": 1.0318, "250": 1.0127, "300": 1.0318, "450": 1.0325,
    "610": 1.0064, "114": 1.0218, "96": 1.0258, "85": 1.0334, "33": 0.9954, "151": 1.0074,
}


def test_feeder_holds_the_test_feeder_data():
    net = IEEE123Bus()
    assert len(net.bus) == len(ieee123_nodes()) == 129  # 123 nodes + 150, 610 and the regulator outputs
    assert len(net.load) == 85
    assert net.load.p_mw.sum() == pytest.approx(3.490) and net.load.q_mvar.sum() == pytest.approx(1.920)
    assert -net.shunt.q_mvar.sum() == pytest.approx(0.750)  # 600 kvar at 83, 50 kvar at 88, 90 and 92
    assert net.trafo.name.str.contains("Regulator").sum() == 4
    assert len(list(top.connected_components(top.create_nxgraph(net)))) == 1
    assert "IEEE123 Line 13-152" in set(net.line.name)  # a closed switch
    assert not net.line.name.str.endswith(("151-300", "54-94")).any()  # the normally open ties
    assert net.bus.vn_kv[net.bus.name == "IEEE123 Bus 610"].item() == 0.48


def test_balanced_model_tracks_the_unbalanced_reference_solution():
    net = IEEE123Bus()
    pp.runpp(net)
    vm = dict(zip(net.bus.name.str.split().str[-1], net.res_bus.vm_pu))
    diff = np.array([vm[n] - ref for n, ref in OPENDSS_PHASE_MEAN_PU.items()])
    assert np.abs(diff).max() < 0.02, dict(zip(OPENDSS_PHASE_MEAN_PU, diff.round(4)))
    assert np.abs(diff).mean() < 0.01
    assert net.res_line.loading_percent.max() < 100.0


@pytest.mark.slow  # 5 s
def test_regulator_taps_are_checked_and_applied():
    net, buses = build_operator_network("IEEE123", "DSO", regulator_taps=(0, 0, 0, 0), vm_pu=1.0)
    pp.runpp(net)
    assert net.res_bus.vm_pu.at[buses["149"]] < 1.0  # no boost at the source regulator
    with pytest.raises(ValueError, match="4 tap steps"):
        build_operator_network("IEEE123", "DSO", regulator_taps=(2, 0))
    with pytest.raises(ValueError, match=r"regulator 150-149: tap must be a step in \[-16, 16\], got 20"):
        build_operator_network("IEEE123", "DSO", regulator_taps=(20, 0, 0, 0))


def test_derivation_helpers_on_small_inputs(tmp_path):
    dss = tmp_path / "x.dss"
    dss.write_text("New linecode.9 nphases=1 ! one phase\n~ rmatrix = [0.25]\nnew Line.L1 Bus1=1.2 Bus2=2.2 Length=0.2\n")
    (code, p, _), (line, q, pairs) = statements(dss)
    assert code == "linecode.9" and p["rmatrix"] == "[0.25]" and p["nphases"] == "1"
    assert line == "line.l1" and q["bus1"] == "1.2" and q["length"] == "0.2"
    assert pairs == [("bus1", "1.2"), ("bus2", "2.2"), ("length", "0.2")]
    m = lower_triangle("[2 | 0.5 2 | 0.5 0.5 2]")
    assert positive_sequence(m) == pytest.approx(1.5) and positive_sequence(np.array([[0.3]])) == 0.3
    assert (maxwell(lower_triangle("[3 | 0.5 3]")) == [[3, -0.5], [-0.5, 3]]).all()
    data = {"a": [[1, "x"], [2, "y"]], "b": {"k": 1}}
    assert json.loads(to_json(data)) == data


@pytest.mark.slow  # 3 s
def test_ieee123_serves_as_the_operator_network_in_both_modes():
    microgrids = copy.deepcopy(load_setup("ieee34_ieee13")["microgrid_configs"])
    for mg, node in zip(microgrids, ("13", "60", "97")):
        mg["connection_bus"] = node
    config = {"dso_config": {"network": "IEEE123", "vm_pu": 1.0, "load_scale": 0.5}, "microgrid_configs": microgrids}
    envs = [MultiAgentMicrogrids({**config, "centralized": c}) for c in (True, False)]
    rng = np.random.default_rng(3)
    for env in envs:
        env.reset(seed=5)
    for _ in range(24):
        actions = {a: rng.uniform(-1, 1, envs[0].action_space(a).shape).astype(np.float32) for a in envs[0].agents}
        (obs_c, rew_c, _, _, info_c), (obs_d, rew_d, _, _, _) = (env.step(actions) for env in envs)
        assert all(i["converged"] for i in info_c.values())
        for a in obs_c:
            assert envs[0].observation_space(a).contains(obs_c[a])
            np.testing.assert_allclose(obs_c[a], obs_d[a], atol=1e-9)
            assert rew_c[a] == pytest.approx(rew_d[a], abs=1e-9)
    assert len(envs[0].net.bus) == 129 + 3 * 14
