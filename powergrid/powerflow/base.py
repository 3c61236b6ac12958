"""One interface for every power-flow backend.

The caller writes injections into the backend's arrays (``load_p``, ``sgen_q``, ``trafo_tap``...,
in the row order of the pandapower tables) and calls ``solve()``; results land in preallocated
arrays of :class:`PowerFlowResult`, bus results in the row order of ``net.bus``. The network
model itself is built once from the pandapower net; nothing per step touches pandas.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from powergrid.core.net_handle import NetHandle

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["PowerFlowBackend", "PowerFlowResult"]


@dataclass
class PowerFlowResult:
    """Results of the last solve (arrays are reused: copy what you keep)."""

    converged: bool
    vm_pu: np.ndarray
    va_degree: np.ndarray
    line_loading_percent: np.ndarray
    trafo_loading_percent: np.ndarray
    trafo_p_hv_mw: np.ndarray

    @classmethod
    def empty(cls, net: pp.pandapowerNet) -> "PowerFlowResult":
        n_bus, n_line, n_trafo = len(net.bus), len(net.line), len(net.trafo)
        return cls(False, np.ones(n_bus), np.zeros(n_bus), np.zeros(n_line), np.zeros(n_trafo), np.zeros(n_trafo))


class PowerFlowBackend(ABC):
    """Holds the injection arrays and the last result; subclasses implement ``solve``."""

    name = "base"

    def __init__(self, net: pp.pandapowerNet | NetHandle) -> None:
        self._net = net if isinstance(net, NetHandle) else NetHandle(net)  # shared with a model's: read once
        net = self._net.net
        _check_supported(net)
        self.load_p = net.load.p_mw.to_numpy(float) * net.load.scaling.to_numpy(float)
        self.load_q = net.load.q_mvar.to_numpy(float) * net.load.scaling.to_numpy(float)
        self.sgen_p = net.sgen.p_mw.to_numpy(float) * net.sgen.scaling.to_numpy(float)
        self.sgen_q = net.sgen.q_mvar.to_numpy(float) * net.sgen.scaling.to_numpy(float)
        self.storage_p = net.storage.p_mw.to_numpy(float) * net.storage.scaling.to_numpy(float)
        self.shunt_q = net.shunt.q_mvar.to_numpy(float) * net.shunt.step.to_numpy(float)
        self.trafo_tap = _tap_positions(net)
        self._tap_neutral = net.trafo.tap_neutral.fillna(0).to_numpy(float) if "tap_neutral" in net.trafo else np.zeros(len(net.trafo))
        self._tap_step = net.trafo.tap_step_percent.fillna(0).to_numpy(float) if "tap_step_percent" in net.trafo else np.zeros(len(net.trafo))
        self._tap_lv = (net.trafo.tap_side == "lv").to_numpy() if "tap_side" in net.trafo else np.zeros(len(net.trafo), bool)
        self.initial = {k: getattr(self, k).copy() for k in self.INJECTIONS}
        self.result = PowerFlowResult.empty(net)
        self._line_rating_ka = (net.line.max_i_ka * net.line.df * net.line.parallel).to_numpy(float)
        self._trafo_rating = net.trafo.sn_mva.to_numpy(float) * net.trafo.parallel.to_numpy(float)

    @property
    def net(self) -> pp.pandapowerNet:
        """The pandapower net this backend was built from."""
        return self._net.net

    INJECTIONS = ("load_p", "load_q", "sgen_p", "sgen_q", "storage_p", "shunt_q", "trafo_tap")

    def tap_ratio_factor(self) -> np.ndarray:
        """Per-transformer factor on the rated ratio implied by the tap positions."""
        factor = 1.0 + (self.trafo_tap - self._tap_neutral) * self._tap_step / 100.0
        return np.where(self._tap_lv, 1.0 / factor, factor)

    def reset(self) -> None:
        """Back to the injections the net was built with, and a flat start."""
        for key, value in self.initial.items():
            getattr(self, key)[:] = value
        self._forget_start()

    def take_regulation(self, regulation: Any) -> bool:
        """A backend that can step the regulators' controllers inside its own solve takes
        ``regulation`` and returns True; this one cannot (the caller runs them after each solve)."""
        return False

    @property
    def warm_start(self) -> object:
        """A copy of the state the next solve starts from; assigning one taken earlier puts it
        back (a step that fails is undone). A backend that does not say restores a flat start."""
        return self._start()

    @warm_start.setter
    def warm_start(self, start: object) -> None:
        self._set_start(start)

    def check_finite(self) -> None:
        """Raise ``ValueError`` naming the first injection or tap position that is NaN or
        infinite: such an input is a bug upstream, not a power flow that failed to converge."""
        for key in self.INJECTIONS:
            values = getattr(self, key)
            bad = np.argwhere(~np.isfinite(values))
            if bad.size:
                where = tuple(int(i) for i in bad[0])
                raise ValueError(f"power-flow input {key}[{', '.join(map(str, where))}] is {float(values[where])}; "
                                 "injections and tap positions must be finite")

    @abstractmethod
    def _forget_start(self) -> None:
        """Drop the warm-start state."""

    def _start(self) -> object:
        """A copy of the warm-start state (a backend that does not say restores a flat start)."""
        return None

    def _set_start(self, start: object) -> None:
        """Put back a warm-start state taken by ``_start``."""
        self._forget_start()

    @abstractmethod
    def solve(self) -> PowerFlowResult:
        """Solve AC power flow for the current injections; never raises on divergence (a NaN or
        infinite input raises ``ValueError``, see ``check_finite``)."""


def _tap_positions(net: pp.pandapowerNet) -> np.ndarray:
    if "tap_pos" not in net.trafo or not len(net.trafo):
        return np.zeros(len(net.trafo))
    return net.trafo.tap_pos.fillna(0).to_numpy(float)


def _check_supported(net: pp.pandapowerNet) -> None:
    """Elements the fast backends do not model must not silently vanish."""
    unsupported = [t for t in ("gen", "trafo3w", "impedance", "xward", "ward", "dcline") if t in net and len(net[t])]
    if unsupported:
        raise ValueError(f"net {net.name!r} has {unsupported}; the power-flow backends model ext_grid, bus, line, "
                         "trafo, load, sgen, storage and shunt elements")
    if len(net.switch) and not net.switch.closed.all():
        raise ValueError(f"net {net.name!r} has open switches; remove the switched-out elements first")
    if len(net.switch) and (net.switch.et == "b").any():
        raise ValueError(f"net {net.name!r} has bus-bus switches; fuse the buses (pandapower.toolbox.fuse_buses) first")
