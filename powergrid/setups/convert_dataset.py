"""Convert a dataset pickle of the earlier HERON/PowerGrid into this package's ``.npz`` format.

The shipped ``data/caiso.npz`` (setup ``ieee34_ieee13``) was made by this script from the
earlier package's ``case_studies/power/powergrid/setups/ieee34_ieee13/data.pkl`` (repository
Criss-Wang/PowerGym, MIT licence, copyright (c) 2020 Hepeng Li): hourly CAISO (OASIS) load for
35 balancing areas, solar and wind for the NP15, SP15 and ZP26 zones (per unit) and the
day-ahead price of node 0096WD_7_N001 ($/MWh); a train year of 8760 hours and a test year of
8784. The values are kept as they are (float32); only the container changes: an ``.npz`` is
read without running code, where a pickle can run any.

Run: ``python -m powergrid.setups.convert_dataset data.pkl powergrid/setups/data/caiso.npz``.
Your own pickle needs no conversion: ``dataset_path`` reads it directly.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from powergrid.setups.loader import load_dataset

__all__ = ["convert"]


def convert(source: str | Path, target: str | Path) -> int:
    """Write ``source`` (a pickle or ``.npz`` dataset, checked by ``load_dataset``) to ``target``
    as a compressed ``.npz`` of ``split/kind/area`` arrays; returns how many profiles."""
    data = load_dataset(source)
    arrays = {}
    for split, kinds in data.items():
        for kind, areas in kinds.items():
            for area, values in areas.items():
                if "/" in area:
                    raise ValueError(f"area {area!r} ({split}/{kind}): a '/' cannot be stored in an .npz key")
                arrays[f"{split}/{kind}/{area}"] = values.astype(np.float32)
    np.savez_compressed(target, **arrays)
    return len(arrays)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a dataset pickle in the earlier format")
    parser.add_argument("target", help="the .npz file to write")
    args = parser.parse_args(argv)
    count = convert(args.source, args.target)
    print(f"wrote {args.target} ({Path(args.target).stat().st_size / 1024:.0f} KiB, {count} profiles)")


if __name__ == "__main__":
    main()
