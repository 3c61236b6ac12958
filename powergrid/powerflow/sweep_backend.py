"""Backends on the sweep kernel (:mod:`powergrid.powerflow.sweep`), for radial nets: many copies
(:class:`BatchedSweepBackend`, the batched Newton backend's contract) or one
(:class:`SweepBackend`, the single env's: ``make_backend(net, "sweep")``)."""
from __future__ import annotations

from typing import TYPE_CHECKING


from powergrid.powerflow.base import PowerFlowBackend
from powergrid.powerflow.batched import BatchedNewtonBackend, OneCopyBackend
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
    kernel = serial_kernel = staticmethod(sweep_batch)
    kernel_regulates = False  # the caller steps the regulators after each solve

    def __init__(self, net: pp.pandapowerNet | NetHandle, num_envs: int, fallback: PowerFlowBackend | None = None,
                 max_iter: int = 50, tol: float = 1e-9, angles: bool = True) -> None:
        super().__init__(net, num_envs, fallback, max_iter, tol, angles)


class SweepBackend(OneCopyBackend):
    """One radial net solved by the sweep, warm-started from its last voltages."""

    name = "sweep"
    batch_class = BatchedSweepBackend
    default_max_iter = 50
