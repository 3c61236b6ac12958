"""Power-flow backends behind one interface: lightsim2grid (default) and pandapower (reference).

Many copies at once: :class:`powergrid.powerflow.batched.BatchedNewtonBackend` (import it from
there; it loads Numba, which importing this package does not)."""
from powergrid.powerflow.base import PowerFlowBackend, PowerFlowResult
from powergrid.powerflow.lightsim import LightSimBackend
from powergrid.powerflow.pandapower_backend import PandapowerBackend

BACKENDS = {"lightsim2grid": LightSimBackend, "pandapower": PandapowerBackend}


def make_backend(net, name: str = "lightsim2grid") -> PowerFlowBackend:
    """The backend called ``name`` for ``net``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown power-flow backend {name!r}; available: {sorted(BACKENDS)}")
    return BACKENDS[name](net)


__all__ = ["BACKENDS", "LightSimBackend", "PandapowerBackend", "PowerFlowBackend", "PowerFlowResult", "make_backend"]
