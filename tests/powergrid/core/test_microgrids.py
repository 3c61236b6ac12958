"""Microgrids placed as copies of their kind: every element where and as the element-by-element
build put it, names included."""
import copy

from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import load_setup


def test_a_tap_changer_keeps_its_transformer_and_its_name_in_every_copy():
    kinds = load_setup("ieee34_ieee13")["microgrid_configs"]
    first = copy.deepcopy(kinds[0])
    first["devices"] += [{"type": "Transformer", "name": "oltc", "tap_min": -4, "tap_max": 6, "tap_pos": 2},
                         {"type": "Shunt", "name": "cap", "bus": "675", "q_step_mvar": 0.05, "max_step": 4}]
    twin = copy.deepcopy(first)  # the same kind: placed as a copy of the first one's part
    twin.update(name="MG9", connection_bus="DSO Bus 858")
    twin["devices"] = [dict(d, name=f"MG9_{d['name']}") for d in twin["devices"]]
    env = MultiAgentMicrogrids({"microgrid_configs": [first, twin, kinds[1]]})
    trafo = env.net.trafo
    for mg, prefix in zip(env.core.model.microgrids[:2], ("", "MG9_")):
        oltc = next(d for d in mg.devices if d.kind == "oltc")
        assert oltc.row == mg.trafo and trafo.name[mg.trafo] == f"{mg.name} Connection"
        assert (trafo.tap_min[mg.trafo], trafo.tap_max[mg.trafo], trafo.tap_pos[mg.trafo]) == (-4, 6, 2)
        cap = next(d for d in mg.devices if d.kind == "shunt")
        assert env.net.shunt.name[cap.row] == f"{prefix}cap" and env.net.bus.name[env.net.shunt.bus[cap.row]] == f"{mg.name} Bus 675"
        solar = env.core.model.fleets["generator"].element[mg.devices[0].row]
        assert env.net.sgen.name[solar] == f"{prefix}solar_1"
    assert trafo.name[env.core.model.microgrids[2].trafo] == "MG2 Connection" and trafo.tap_pos.isna()[env.core.model.microgrids[2].trafo]

