"""Power-flow backends behind one interface: lightsim2grid (default), Newton and the sweep
(Numba kernels, one copy; :mod:`powergrid.powerflow.newton`, :mod:`powergrid.powerflow.sweep`)
and pandapower (reference).

Many copies at once: :class:`powergrid.powerflow.batched.BatchedNewtonBackend` and
:class:`powergrid.powerflow.sweep_backend.BatchedSweepBackend`.

A backend's module is imported when the backend is first asked for: lightsim2grid, Numba and
pandapower each take a large part of a second to import, and an env needs one of them."""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from powergrid.powerflow.base import PowerFlowBackend, PowerFlowResult

if TYPE_CHECKING:
    from powergrid.powerflow.batched import NewtonBackend
    from powergrid.powerflow.lightsim import LightSimBackend
    from powergrid.powerflow.pandapower_backend import PandapowerBackend
    from powergrid.powerflow.sweep_backend import SweepBackend

#: backend name -> (module, class)
_WHERE = {"lightsim2grid": ("powergrid.powerflow.lightsim", "LightSimBackend"),
          "newton": ("powergrid.powerflow.batched", "NewtonBackend"),
          "sweep": ("powergrid.powerflow.sweep_backend", "SweepBackend"),
          "pandapower": ("powergrid.powerflow.pandapower_backend", "PandapowerBackend")}


class _Backends(Mapping[str, type]):
    """Backend name -> class, each class imported on first use."""

    def __getitem__(self, name: str) -> type:
        module, cls = _WHERE[name]
        return getattr(importlib.import_module(module), cls)

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)

    def __repr__(self) -> str:
        return f"BACKENDS({', '.join(_WHERE)})"


BACKENDS: Mapping[str, type] = _Backends()


def make_backend(net, name: str = "lightsim2grid") -> PowerFlowBackend:
    """The backend called ``name`` for ``net``."""
    if name not in BACKENDS:
        raise ValueError(f"unknown power-flow backend {name!r}; available: {sorted(BACKENDS)}")
    return BACKENDS[name](net)


def __getattr__(name: str) -> Any:
    """The backend classes, imported when first named (``from powergrid.powerflow import SweepBackend``)."""
    for module, cls in _WHERE.values():
        if cls == name:
            return getattr(importlib.import_module(module), cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BACKENDS", "LightSimBackend", "NewtonBackend", "PandapowerBackend", "PowerFlowBackend", "PowerFlowResult", "SweepBackend", "make_backend"]
