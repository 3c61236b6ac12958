"""Power-flow backends behind one interface: lightsim2grid (default), the sweep (radial nets,
Numba; :mod:`powergrid.powerflow.sweep`) and pandapower (reference).

Many copies at once: :class:`powergrid.powerflow.batched.BatchedNewtonBackend` and
:class:`powergrid.powerflow.sweep_backend.BatchedSweepBackend`."""
from powergrid.powerflow.base import PowerFlowBackend, PowerFlowResult
from powergrid.powerflow.lightsim import LightSimBackend
from powergrid.powerflow.pandapower_backend import PandapowerBackend
from powergrid.powerflow.sweep_backend import SweepBackend

BACKENDS = {"lightsim2grid": LightSimBackend, "sweep": SweepBackend, "pandapower": PandapowerBackend}


def make_backend(net, name: str = "lightsim2grid") -> PowerFlowBackend:
    """The backend called ``name`` for ``net``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown power-flow backend {name!r}; available: {sorted(BACKENDS)}")
    return BACKENDS[name](net)


__all__ = ["BACKENDS", "LightSimBackend", "PandapowerBackend", "PowerFlowBackend", "PowerFlowResult", "SweepBackend", "make_backend"]
