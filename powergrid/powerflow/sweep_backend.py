"""Backends on the sweep kernel (:mod:`powergrid.powerflow.sweep`), for radial nets: many copies
(:class:`BatchedSweepBackend`, the batched Newton backend's contract) or one
(:class:`SweepBackend`, the single env's: ``make_backend(net, "sweep")``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from powergrid.powerflow.base import PowerFlowBackend, PowerFlowResult
from powergrid.powerflow.batched import BatchedNewtonBackend
from powergrid.powerflow.sweep import build_sweep_model, sweep_batch

if TYPE_CHECKING:
    import pandapower as pp

    from powergrid.core.net_handle import NetHandle

__all__ = ["BatchedSweepBackend", "SweepBackend"]


class BatchedSweepBackend(BatchedNewtonBackend):
    """``num_envs`` copies of a radial net, each solved by the sweep; a copy the sweep cannot
    solve goes to the fallback (lightsim2grid), as in the Newton backend."""

    name = "sweep-batched"
    build = staticmethod(build_sweep_model)
    kernel = staticmethod(sweep_batch)

    def __init__(self, net: pp.pandapowerNet | NetHandle, num_envs: int, fallback: PowerFlowBackend | None = None,
                 max_iter: int = 50, tol: float = 1e-9, angles: bool = True) -> None:
        super().__init__(net, num_envs, fallback, max_iter, tol, angles)


class SweepBackend(PowerFlowBackend):
    """One radial net solved by the sweep, warm-started from its last voltages: the batched
    backend with one copy, its arrays seen without the batch axis."""

    name = "sweep"

    def __init__(self, net: pp.pandapowerNet | NetHandle, max_iter: int = 50, tol: float = 1e-9) -> None:
        super().__init__(net)
        net = self.net
        self._batch = BatchedSweepBackend(net, 1, max_iter=max_iter, tol=tol)
        self._bind()

    def _bind(self) -> None:
        """Our injection and result arrays are the batch's first copy (views)."""
        for key in self.INJECTIONS:
            setattr(self, key, getattr(self._batch, key)[0])
        r = self._batch.result
        self.result = PowerFlowResult(bool(r.converged[0]), r.vm_pu[0], r.va_degree[0], r.line_loading_percent[0],
                                      r.trafo_loading_percent[0], r.trafo_p_hv_mw[0])

    def __setstate__(self, state: dict) -> None:
        """A copy (pickle or deepcopy) breaks the views: rebuild them on the copy's batch."""
        self.__dict__.update(state)
        values = {key: np.array(getattr(self, key)) for key in self.INJECTIONS}
        self._bind()
        for key, value in values.items():
            getattr(self, key)[:] = value

    @property
    def iterations(self) -> int:
        """Sweeps the last solve took."""
        return int(self._batch.iterations[0])

    @property
    def fallback_solves(self) -> int:
        """Solves the sweep gave to lightsim2grid so far."""
        return self._batch.fallback_solves

    def solve(self) -> PowerFlowResult:
        try:
            converged = self._batch.solve().converged[0]
        except ValueError:
            self.check_finite()  # names the input without the batch's index
            raise
        self.result.converged = bool(converged)
        return self.result

    def _forget_start(self) -> None:
        self._batch._forget_start()

    def _start(self) -> np.ndarray:
        return self._batch._start()

    def _set_start(self, start: np.ndarray) -> None:
        self._batch._set_start(start)
