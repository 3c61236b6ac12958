"""Copies of a part, appended table-wise, are the net built element by element."""
import copy

import pandapower as pp
import pandas as pd
import pytest

from powergrid.networks import attach_ieee13_microgrid, build_operator_network
from powergrid.networks.replicate import Copy, Part, append_copies

TABLES = ("bus", "line", "trafo", "load", "sgen", "storage", "shunt")


def microgrid_part(name: str, kv: float) -> tuple[pp.pandapowerNet, int]:
    part = pp.create_empty_network()
    port = pp.create_bus(part, vn_kv=kv, name=f"{name} port")
    buses, _ = attach_ieee13_microgrid(part, port, name, load_scale=0.1)
    pp.create_sgen(part, buses["671"], p_mw=0.2, name="solar")
    pp.create_storage(part, buses["680"], p_mw=0.0, max_e_mwh=0.5, name="ess")
    return part, port


def test_copies_equal_the_element_by_element_build():
    one_by_one, nodes = build_operator_network("IEEE34", "DSO")
    copied = copy.deepcopy(one_by_one)
    at = ("850", "858", "806", "850")
    for k, node in enumerate(at):
        buses, _ = attach_ieee13_microgrid(one_by_one, nodes[node], f"MG{k + 1}", load_scale=0.1)
        pp.create_sgen(one_by_one, buses["671"], p_mw=0.2, name=f"solar {k + 1}")
        pp.create_storage(one_by_one, buses["680"], p_mw=0.0, max_e_mwh=0.5, name=f"ess {k + 1}")
    part, port = microgrid_part("MG1", 24.9)
    sgen, storage = part.sgen.index[0], part.storage.index[0]
    copies = [Copy(0, f"MG{k + 1}", (nodes[node],), {("sgen", sgen): f"solar {k + 1}", ("storage", storage): f"ess {k + 1}"})
              for k, node in enumerate(at)]
    placed = append_copies(copied, [Part(part, "MG1", (port,))], copies)
    for table in TABLES:
        pd.testing.assert_frame_equal(copied[table], one_by_one[table], check_index_type=True)
    assert placed[2].rows["bus"][port] == nodes["806"]  # the port is the bus it joins
    assert list(placed[3].rows["sgen"]) == [3]


def test_copies_of_two_parts_keep_the_order_they_are_given_in():
    net, nodes = build_operator_network("IEEE34", "DSO")
    a, port_a = microgrid_part("A", 24.9)
    b, port_b = microgrid_part("B", 24.9)
    pp.create_load(b, 3, p_mw=0.01, name="B extra")
    parts = [Part(a, "A", (port_a,)), Part(b, "B", (port_b,))]
    append_copies(net, parts, [Copy(1, "X", (nodes["850"],)), Copy(0, "Y", (nodes["850"],)), Copy(1, "Z", (nodes["850"],))])
    names = [n for n in net.load.name if not n.startswith("DSO")]
    assert names[:10] == [n.replace("B ", "X ", 1) for n in b.load.name]
    assert names[10:19] == [n.replace("A ", "Y ", 1) for n in a.load.name]
    assert names[-1] == "Z extra" and net.load.index.is_monotonic_increasing and net.load.index[-1] == len(net.load) - 1


def test_a_part_with_an_element_the_copies_do_not_carry_is_refused():
    net, nodes = build_operator_network("IEEE34", "DSO")
    part, port = microgrid_part("A", 24.9)
    pp.create_gen(part, 3, p_mw=0.1)
    with pytest.raises(ValueError, match=r"part 'A' has \['gen'\]; a part may hold only"):
        append_copies(net, [Part(part, "A", (port,))], [Copy(0, "B", (nodes["850"],))])
    part.gen.drop(part.gen.index, inplace=True)
    with pytest.raises(ValueError, match="copy 'B' joins 2 buses; its part has 1 ports"):
        append_copies(net, [Part(part, "A", (port,))], [Copy(0, "B", (nodes["850"], nodes["858"]))])
    with pytest.raises(ValueError, match="copy 'B': joins bus 999, which the net lacks"):
        append_copies(net, [Part(part, "A", (port,))], [Copy(0, "B", (999,))])
