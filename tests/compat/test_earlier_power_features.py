"""The earlier power feature library: balanced features, three-phase refused by name."""
import json

import numpy as np
import pytest

from heron.core.state import CoordinatorAgentState
from powergrid.core.features.inverter import InverterBasedSource
from powergrid.core.features.network import BusVoltages, LineFlows, NetworkMetrics
from powergrid.core.features.power_limits import PowerLimits
from powergrid.core.features.status import StatusBlock
from powergrid.core.features.storage import StorageBlock
from powergrid.core.features.tap_changer import TapChangerPh
from powergrid.core.features.thermal import ThermalLoading
from powergrid.core.features.var import ShuntCapacitorBlock
from powergrid.core.state.state import GridState
from powergrid.utils.phase import PhaseModel, PhaseSpec, check_phase_model_consistency

THREE = dict(phase_model=PhaseModel.THREE_PHASE, phase_spec=PhaseSpec("ABC"))


def storage(**kw):
    return StorageBlock(**{"soc": 0.5, "soc_min": 0.2, "soc_max": 0.8, "e_capacity_MWh": 10.0, "p_ch_max_MW": 5.0,
                           "p_dsc_max_MW": 5.0, **kw})


def test_storage_block_wear_window_and_reset():
    b = storage(degr_cost_per_MWh=0.1, degr_cost_per_cycle=1.0)
    assert b.names() == ["soc", "e_throughput_MWh", "equiv_full_cycles"] and b.vector().dtype == np.float32
    assert b.accumulate_throughput(-5.0) == pytest.approx(0.5 + 0.5) and b.equiv_full_cycles == 0.5
    b.soc = 0.1
    assert b.soc_violation() == pytest.approx(0.1) and b.clip_().soc == 0.2
    b.reset(soc=0.3, reset_degradation=True)
    assert (b.soc, b.e_throughput_MWh, b.degr_cost_cum) == (0.3, 0.0, 0.0)
    assert 0.2 <= b.reset(random_init=True, seed=4).soc <= 0.8
    assert StorageBlock.from_dict(json.loads(json.dumps(b.to_dict()))).soc == b.soc
    with pytest.raises(AttributeError, match="unknown fields"):
        b.set_values(colour=1)
    for bad, message in (({"soc": None}, "soc is None"), ({"soc_min": 0.9}, "soc_min cannot be greater"),
                         ({"e_capacity_MWh": -1.0}, "e_capacity_MWh must be > 0"), ({"ch_eff": 1.5}, "ch_eff must be in"),
                         ({"p_ch_max_MW": float("nan")}, "finite")):
        with pytest.raises(ValueError, match=message):
            storage(**bad)


def test_status_block_encodings():
    b = StatusBlock(in_service=True, state="charging", states_vocab=["idle", "charging"], emit_state_one_hot=True, progress_frac=0.5)
    assert b.names() == ["in_service", "state_idle", "state_charging", "progress_frac"]
    np.testing.assert_array_equal(b.vector(), [1.0, 0.0, 1.0, 0.5])
    assert StatusBlock(state="b", states_vocab=["a", "b"], emit_state_index=True).vector().tolist() == [1.0]
    for bad in ({"state": "x", "states_vocab": ["a"]}, {"state": "a", "states_vocab": ["a", "a"]},
                {"state": "a", "states_vocab": ["a"], "progress_frac": 1.5}):
        with pytest.raises(ValueError):
            StatusBlock(**bad)


def test_power_limits_capability():
    gl = PowerLimits(s_rated_MVA=5.0, pf_min_abs=0.9, q_min_MVAr=-1.0, q_max_MVAr=1.5)
    low, high = gl.effective_q_bounds(3.0)
    assert low == -1.0 and high == pytest.approx(3.0 * np.sqrt(1 / 0.81 - 1))
    p, q = gl.project_pq(6.0, 6.0)
    assert np.hypot(p, q) <= 5.0 + 1e-9 and q <= high
    assert gl.feasible(5.5, 3.0)["s_excess"] > 0 and PowerLimits().effective_q_bounds(1.0) == (None, None)
    swapped = PowerLimits(derate_frac=1.5, p_min_MW=5.0, p_max_MW=2.0).clip_()
    assert (swapped.derate_frac, swapped.p_min_MW, swapped.p_max_MW) == (1.0, 2.0, 5.0)
    with pytest.raises(ValueError, match="pf_min_abs"):
        PowerLimits(pf_min_abs=0.0)


def test_inverter_controls_and_limits():
    fixed = InverterBasedSource(p_set_MW=3.0, q_set_MVAr=-1.5, q_min_MVAr=-1.0, q_max_MVAr=1.0)
    np.testing.assert_allclose(fixed.vector(), [3.0, -1.0, 1.0])
    pf = InverterBasedSource(p_MW=4.5, ctrl_mode="pf_set", pf_target=0.95)
    assert pf.vector()[1] == pytest.approx(-4.5 * np.sqrt(1 / 0.95 ** 2 - 1), rel=1e-6)
    vv = InverterBasedSource(p_set_MW=1.0, ctrl_mode="volt_var", vv_v1_pu=0.97, vv_v2_pu=1.03, vv_q1_MVAr=0.5, vv_q2_MVAr=-0.5)
    assert vv.vector(V_pu_for_vv=1.02)[1] == pytest.approx(0.5 - 1.0 * 5 / 6, rel=1e-6)
    with pytest.raises(ValueError, match="needs the voltage"):
        vv.vector()


def test_thermal_tap_and_capacitor():
    assert ThermalLoading(loading_percentage=250.0).clamp_().vector().tolist() == [2.0]
    tap = TapChangerPh(tap_min=-2, tap_max=2, tap_position=1)
    assert tap.names()[0] == "tap_-2" and tap.vector().tolist() == [0, 0, 0, 1, 0]
    assert TapChangerPh(tap_min=0, tap_max=10, tap_position=5, one_hot=False).vector().tolist() == [0.5]
    assert TapChangerPh(tap_min=-2, tap_max=2, tap_position=7).clamp_().tap_position == 2
    cap = ShuntCapacitorBlock(stage_kvar_total=[50.0, 75.0], phase_spec=PhaseSpec("ABC"))
    assert (cap.n_stages, cap.kvar_total, cap.phase_spec) == (2, 125.0, None) and len(cap.names()) == len(cap.vector()) == 3
    assert ShuntCapacitorBlock.from_dict(json.loads(json.dumps(cap.to_dict()))).kvar_total == 125.0
    with pytest.raises(ValueError, match="Conflict"):
        ShuntCapacitorBlock(kvar_total=120.0, stage_kvar_total=[50.0, 50.0])
    with pytest.raises(ValueError, match="Provide 'tap_min' and 'tap_max'"):
        TapChangerPh(tap_position=0)


@pytest.mark.parametrize("make", [lambda: ThermalLoading(loading_percentage_ph=[1.0, 2.0, 3.0], **THREE),
                                  lambda: TapChangerPh(tap_min=0, tap_max=2, tap_pos_ph=[0, 1, 2], **THREE),
                                  lambda: InverterBasedSource(p_set_MW=1.0, **THREE),
                                  lambda: ShuntCapacitorBlock(kvar_ph=[1.0, 1.0, 1.0], **THREE)])
def test_three_phase_features_are_refused_by_name(make):
    with pytest.raises(ValueError, match="three_phase is not modelled"):
        make()


def test_network_features_in_a_grid_state():
    buses = BusVoltages(vm_pu=[1.0, 1.02], va_deg=[0.0, -5.0], bus_names=["B1", "B2"])
    lines = LineFlows(p_from_mw=[10.0], q_from_mvar=[5.0], loading_percent=[45.0], line_names=["L1"])
    state = GridState(owner_id="grid", features=[buses, lines, NetworkMetrics(total_gen_mw=100.0)])
    assert GridState is CoordinatorAgentState and state.vector().shape == (12,)
    assert buses.names()[2] == "va_deg_B1" and lines.names() == ["p_from_mw_L1", "q_from_mvar_L1", "loading_percent_L1"]
    with pytest.raises(ValueError, match="2 values for 1 elements"):
        LineFlows(p_from_mw=[1.0, 2.0], q_from_mvar=[1.0], loading_percent=[1.0], line_names=["L1"])


def test_phase_spec_keeps_order_and_aligns():
    spec = PhaseSpec("bcab")
    assert spec.phases == "BCA" and spec.index("A") == 2
    np.testing.assert_array_equal(PhaseSpec("AB").align_with(PhaseSpec("ABC"), [5.0, 6.0], fill=-1.0), [5.0, 6.0, -1.0])
    assert PhaseSpec.from_dict(PhaseSpec("AB", True, True).to_dict()) == PhaseSpec("AB", True, True)
    assert check_phase_model_consistency(PhaseModel.BALANCED_1PH, PhaseSpec("ABC")) is None
    with pytest.raises(ValueError, match="requires a PhaseSpec"):
        check_phase_model_consistency(PhaseModel.THREE_PHASE, None)
