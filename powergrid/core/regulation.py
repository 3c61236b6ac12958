"""The operator network's step-voltage regulators, automatic as a utility's are.

A regulator's controller watches the voltage of the bus it feeds and steps its tap changer
when that voltage leaves the band ``setpoint ± band``, by as many steps as bring it back to the
set point (each step is 0.625 %). Within an hourly step a real controller has time for all
of them (its delay is tens of seconds), so here each power flow is followed by the
controllers' steps and a new power flow, until every regulated bus is within its band or its
tap at its limit. Regulators in series see each other's steps, so that takes a few rounds
(at most ``ROUNDS``). Config: dso_config ``regulator_setpoint`` (pu; None holds the taps of
``regulator_taps``) and ``regulator_band`` (pu, half the band's width; at least half a tap
step, or a controller would hunt).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from heron.core.checks import finite_number
from powergrid.networks._feeder import regulator_trafos

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["Regulation", "ROUNDS", "regulate"]

ROUNDS = 4  # power flows after the first, at most, while the controllers step


@dataclass(frozen=True)
class Regulation:
    """The regulators of a net: their transformer rows, the positions (in ``net.bus`` order) of
    the buses they regulate, their tap range, step (pu) and direction, and the band."""

    trafo: np.ndarray
    bus: np.ndarray
    tap_min: np.ndarray
    tap_max: np.ndarray
    step: np.ndarray  # pu per tap step
    sign: np.ndarray  # +1 where a higher tap lowers the regulated voltage (tap on the high side)
    setpoint: float
    band: float
    rounds: ClassVar[int] = ROUNDS  # solves after the first, at most

    @classmethod
    def of(cls, net: pp.pandapowerNet, name: str, dso: Mapping[str, Any]) -> "Regulation | None":
        """The regulators of operator network ``name`` under ``dso``'s settings; None when they
        hold fixed taps (no set point) or the network has none."""
        setpoint = dso.get("regulator_setpoint")
        band = dso.get("regulator_band", 0.01)
        if setpoint is not None:
            setpoint = finite_number(setpoint, "config 'dso_config': 'regulator_setpoint' (pu, or None for fixed taps)",
                                     minimum=0.9, maximum=1.1)
        band = finite_number(band, "config 'dso_config': 'regulator_band' (pu)", above=0.0)
        rows = regulator_trafos(net, name)
        trafo = net.trafo.loc[rows]
        step = trafo.tap_step_percent.to_numpy(float) / 100.0
        if rows and band < 0.5 * step.max():
            raise ValueError(f"config 'dso_config': 'regulator_band' must be at least half a tap step ({0.5 * step.max():g} pu), "
                             f"or a regulator would hunt between two taps; got {band!r}")
        if setpoint is None or not rows:
            return None
        positions = net.bus.index.get_indexer(trafo.lv_bus)
        return cls(np.array(rows, dtype=np.int64), positions.astype(np.int64), trafo.tap_min.to_numpy(float),
                   trafo.tap_max.to_numpy(float), step, np.where(trafo.tap_side.to_numpy() == "hv", 1.0, -1.0),
                   float(setpoint), float(band))

    def steps(self, vm: np.ndarray, taps: np.ndarray) -> np.ndarray:
        """The taps the controllers move to, given the voltages (the last axis: every bus) and the
        taps now (the last axis: each regulator); a leading batch axis is kept."""
        error = vm[..., self.bus] - self.setpoint
        move = np.where(np.abs(error) > self.band, np.rint(error / self.step) * self.sign, 0.0)
        return np.clip(taps + move, self.tap_min, self.tap_max)


def regulate(regulation: Regulation, backend: Any, result: Any, rows: np.ndarray | None = None) -> Any:
    """After a solve: the controllers step and the network is solved again, until no tap moves
    (at most ``ROUNDS`` times). ``rows`` (a batch) limits it to those copies; a copy that did not
    converge keeps its taps. Returns the last result."""
    batched = rows is not None
    where = (slice(None), regulation.trafo) if batched else regulation.trafo
    for _ in range(regulation.rounds):
        taps = backend.trafo_tap[where]
        moved_to = regulation.steps(result.vm_pu, taps)
        moved = moved_to != taps
        if batched:
            moved &= (rows & result.converged)[:, None]
            moved_to = np.where(moved, moved_to, taps)
            again = moved.any(axis=1)
            if not again.any():
                break
            backend.trafo_tap[where] = moved_to
            result = backend.solve(again)
        else:
            if not result.converged or not moved.any():
                break
            backend.trafo_tap[where] = moved_to
            result = backend.solve()
    return result
