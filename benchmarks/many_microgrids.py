"""A config of ``n`` microgrids on the default operator feeder: the default setup's three
microgrids repeated at successive feeder nodes, their loads scaled by 1.5 / n (at most 1), so
that the feeder carries them all (at 30 microgrids and a tenth of their load the power flow
does not converge)."""
from powergrid.setups import load_setup

NODES = ("806", "808", "810", "812", "814", "816", "818", "820", "822", "824", "826", "828", "830", "832", "834", "836", "838",
         "840", "842", "844", "846", "848", "850", "852", "854", "856", "858", "860", "862", "864")


def many_microgrids(n: int) -> list[dict]:
    base = load_setup("ieee34_ieee13")["microgrid_configs"]
    out = []
    for k in range(n):
        mg = dict(base[k % len(base)], name=f"MG{k + 1}", connection_bus=NODES[k % len(NODES)], load_scale=min(1.0, 1.5 / n))
        mg["devices"] = [{**d, "name": f"MG{k + 1}_{i}"} for i, d in enumerate(mg["devices"])]
        out.append(mg)
    return out
