"""Build ``data/simbench.npz`` (setup ``ieee34_ieee13_simbench``): hourly load, solar, wind and price profiles, train and test year.

Source: the SimBench benchmark data set (simbench.de), the standard profiles that the
``simbench`` Python package ships (``networks/1-complete_data-mixed-all-0-sw``: one year, 2016,
at 15-minute resolution). Hourly means of:

- load areas: ``residential`` (household, H0), ``commercial`` (G1), ``rural`` (agricultural, L2)
- renewable areas ``R1``..``R3``: a PV profile (solar) and a wind-park profile (wind) each
- price area ``DA``: SimBench has no prices, so the price is synthetic: a merit-order curve on
  the residual demand (load minus renewables) of the same hours, 25 to 90 $/MWh.

SimBench has one year only, so the two splits use different standard profiles of that year:
``train`` the A-variants / PV1-3 / WP1-3, ``test`` the B/M-variants / PV4-6 / WP4-6. Loads,
solar and wind are per-unit of their yearly peak (float32).

Run: ``pip install --no-deps simbench`` (its data only is read), then
``python -m powergrid.setups.make_dataset``.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

SPLITS = {
    "train": {"load": {"residential": "H0-A", "commercial": "G1-A", "rural": "L2-A"},
              "solar": {"R1": "PV1", "R2": "PV2", "R3": "PV3"}, "wind": {"R1": "WP1", "R2": "WP2", "R3": "WP3"}},
    "test": {"load": {"residential": "H0-B", "commercial": "G1-B", "rural": "L2-M"},
             "solar": {"R1": "PV4", "R2": "PV5", "R3": "PV6"}, "wind": {"R1": "WP4", "R2": "WP5", "R3": "WP6"}},
}
OUT = Path(__file__).with_name("data") / "simbench.npz"


def read_hourly(path: Path, columns: list[str]) -> dict[str, np.ndarray]:
    """Hourly means of the named columns of a SimBench profile file (';'-separated, 15 min)."""
    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter=";")
        header = next(reader)
        idx = [header.index(c) for c in columns]
        rows = np.array([[float(r[i]) for i in idx] for r in reader])
    hours = rows.shape[0] // 4
    hourly = rows[: hours * 4].reshape(hours, 4, len(columns)).mean(axis=1)
    return {c: hourly[:, k] for k, c in enumerate(columns)}


def per_unit(x: np.ndarray) -> np.ndarray:
    return np.maximum(x / x.max(), 0.0).astype(np.float32)


def synthetic_price(load: dict[str, np.ndarray], solar: dict[str, np.ndarray], wind: dict[str, np.ndarray]) -> np.ndarray:
    residual = np.mean(list(load.values()), axis=0) - 0.25 * np.mean(list(solar.values()), axis=0) - 0.25 * np.mean(list(wind.values()), axis=0)
    r = (residual - residual.min()) / (residual.max() - residual.min())
    return (25.0 + 40.0 * r + 25.0 * r**2).astype(np.float32)


def main() -> None:
    import simbench

    folder = Path(os.path.dirname(simbench.__file__)) / "networks" / "1-complete_data-mixed-all-0-sw"
    arrays = {}
    for split, spec in SPLITS.items():
        load_cols = [f"{p}_pload" for p in spec["load"].values()]
        loads = read_hourly(folder / "LoadProfile.csv", load_cols)
        res = read_hourly(folder / "RESProfile.csv", list(spec["solar"].values()) + list(spec["wind"].values()))
        load = {area: per_unit(loads[f"{p}_pload"]) for area, p in spec["load"].items()}
        solar = {area: per_unit(res[p]) for area, p in spec["solar"].items()}
        wind = {area: per_unit(res[p]) for area, p in spec["wind"].items()}
        for kind, profiles in (("load", load), ("solar", solar), ("wind", wind)):
            for area, values in profiles.items():
                arrays[f"{split}/{kind}/{area}"] = values
        arrays[f"{split}/price/DA"] = synthetic_price(load, solar, wind)
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(arrays)} profiles of {len(next(iter(arrays.values())))} hours)")


if __name__ == "__main__":
    main()
