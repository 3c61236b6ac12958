"""Many microgrids on a system of feeders: a setup that grows with ``n``.

``many(n)`` places ``n`` microgrids of the shipped setup's kinds (the three microgrids of
``ieee34_ieee13`` with their devices, in turn) on ``ceil(n / per_feeder)`` copies of the
operator feeder, ``per_substation`` feeders to a substation (see
:mod:`powergrid.networks.compose`), each microgrid at its nominal load. No two microgrids
follow the same profile: microgrid ``k`` takes load area ``k mod A`` of the dataset's ``A``
load areas with a profile (CAISO's AVRN has none: it is all zero) shifted by ``k // A`` days, and
the solar area of its kind shifted by ``k // K`` days (``K`` kinds); feeder ``j``'s own
loads follow the operator's load area shifted by ``j`` days. The net is radial, so the power
flow is the sweep (:mod:`powergrid.powerflow.sweep`), linear in the buses.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from powergrid.setups.loader import load_dataset, load_setup, shifted

__all__ = ["many", "FEEDER_NODES"]

#: Per operator feeder, the nodes microgrids connect to, in the order they are used. IEEE 34 is a
#: long rural 24.9 kV feeder: its far end takes about one more megawatt, its first 10 km
#: (800-808) eight microgrids at nominal load (2.8 MW) with every element within its rating
#: all year (node 810, on a lateral of thin conductor, lets them sag below 0.95 pu). IEEE 123 is not offered: its trunk (line 149-1) reaches 117 % at the peak hour with
#: two microgrids on it.
FEEDER_NODES = {"IEEE34": ("802", "806", "808", "802", "806", "808", "802", "806", "808", "802", "806", "808")}


def many(n: int, feeder: str = "IEEE34", per_feeder: int = 8, per_substation: int = 8,
         setup: str = "ieee34_ieee13") -> dict[str, Any]:
    """A config for :class:`~powergrid.envs.MultiAgentMicrogrids` with ``n`` microgrids
    (named ``MG1`` ... ``MG<n>``) on ``feeder`` copies, ``per_feeder`` microgrids to a feeder."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"many(n): n must be a whole number >= 1, got {n!r}")
    if feeder not in FEEDER_NODES:
        raise ValueError(f"many(feeder=...): one of {sorted(FEEDER_NODES)}, got {feeder!r}")
    nodes = FEEDER_NODES[feeder]
    if not isinstance(per_feeder, int) or not 1 <= per_feeder <= len(nodes):
        raise ValueError(f"many(per_feeder=...): a whole number in [1, {len(nodes)}] (the {feeder} nodes used), got {per_feeder!r}")
    base = load_setup(setup)
    data = load_dataset(base["dataset_path"])
    areas = [a for a in sorted(data["train"]["load"]) if all(np.ptp(data[split]["load"][a]) > 0 for split in ("train", "test"))]
    kinds = base["microgrid_configs"]
    feeders = -(-n // per_feeder)
    # regulators hold 1.02 pu, not the setup's 1.0: a utility sets its substation bus above
    # nominal so that the far end of a microgrid stays above 0.95 pu at the peak hour
    dso = dict(base["dso_config"], network=feeder, feeders=feeders, feeders_per_substation=per_substation, regulator_setpoint=1.02)
    if feeder != "IEEE34":
        dso.pop("regulator_taps", None)  # the setup's taps are its own feeder's
    microgrids = []
    for k in range(n):
        mg = copy.deepcopy(kinds[k % len(kinds)])
        name = f"MG{k + 1}"
        mg.update(name=name, connection_bus=f"F{k // per_feeder + 1}.{nodes[k % per_feeder]}",
                  load_area=shifted(areas[k % len(areas)], k // len(areas)),
                  renew_area=shifted(mg["renew_area"], k // len(kinds)))
        for device in mg["devices"]:
            device["name"] = f"{name}_{device['name']}"
        microgrids.append(mg)
    return {**{k: v for k, v in base.items() if k not in ("dso_config", "microgrid_configs", "description")},
            "dso_config": dso, "microgrid_configs": microgrids, "power_flow_backend": "sweep"}
