"""Default backend: lightsim2grid's C++ Newton-Raphson (KLU), warm-started from the last voltages.

The solver model is built once from the pandapower net (``pandapower_v3`` converter; element
``scaling`` is baked into the values first). Each solve pushes only the injections that changed
(active and reactive load, generation and storage power through the vector setters, which take
float32; reactive generation, shunts and taps element by element; a change too small for
lightsim2grid to apply goes through a detour), then runs AC from the last solution; on
divergence it retries from a DC solution, then from a flat start, and otherwise reports
``converged=False`` (keeping the last good results) instead of raising.
"""
from __future__ import annotations

import copy
import importlib.abc
import importlib.util
import math
import sys
import warnings
from typing import TYPE_CHECKING

import numpy as np

from powergrid.powerflow.base import PowerFlowBackend, PowerFlowResult

if TYPE_CHECKING:
    import pandapower as pp

    from powergrid.core.net_handle import NetHandle

__all__ = ["LightSimBackend"]


class _WithoutGrid2OpBackend(importlib.abc.MetaPathFinder):
    """Fails lightsim2grid's Grid2Op backend module at once, as it would fail anyway."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "lightsim2grid.lightSimBackend":
            raise ImportError("grid2op is not installed")


def _import_lightsim2grid() -> None:
    """Import lightsim2grid, without pandas when Grid2Op is not installed.

    lightsim2grid's ``__init__`` tries its Grid2Op backend, whose module imports pandas (about
    0.3 s) before it fails on the missing grid2op, and catches that ImportError. Failing the
    module before it starts leaves lightsim2grid exactly as it would be, and spares every
    process that reads a kept model the pandas import. With Grid2Op installed nothing changes.
    """
    if "lightsim2grid" in sys.modules or importlib.util.find_spec("grid2op") is not None:
        import lightsim2grid  # noqa: F401
        return
    finder = _WithoutGrid2OpBackend()
    sys.meta_path.insert(0, finder)
    try:
        import lightsim2grid  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


_import_lightsim2grid()  # before a kept model's solver is unpickled: this module's class comes first

SQRT3 = np.sqrt(3.0)
SKIPPED_CHANGE = 2e-7  # lightsim2grid ignores changes below 1e-7; anything under this goes the long way


class LightSimBackend(PowerFlowBackend):
    name = "lightsim2grid"
    FLOAT32_INJECTIONS = ("load_p", "load_q", "sgen_p", "storage_p")  # what the vector setters round

    def __init__(self, net: pp.pandapowerNet | NetHandle, max_iter: int = 20, tol: float = 1e-9) -> None:
        from lightsim2grid.network import init_from_pandapower

        super().__init__(net)
        net = self.net
        baked = copy.deepcopy(net)
        for table in ("load", "sgen", "storage"):
            if len(baked[table]):
                baked[table]["p_mw"] *= baked[table]["scaling"]
                if "q_mvar" in baked[table]:
                    baked[table]["q_mvar"] *= baked[table]["scaling"]
                baked[table]["scaling"] = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.grid = init_from_pandapower(baked, pp_orig_file="pandapower_v3")
        self.max_iter, self.tol = int(max_iter), float(tol)
        self._flat = self._flat_start(baked)
        self._V = self._flat.copy()
        # what lightsim2grid holds of the injections set element by element (NaN: nothing yet)
        self._pushed = {k: np.full_like(getattr(self, k), np.nan) for k in self.INJECTIONS if k not in self.FLOAT32_INJECTIONS}
        # the float32 injections live side by side in one block, so one pass finds what changed
        sizes = [getattr(self, key).size for key in self.FLOAT32_INJECTIONS]
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        self._block = np.concatenate([getattr(self, key) for key in self.FLOAT32_INJECTIONS])
        self._block_slices = {key: slice(int(bounds[i]), int(bounds[i + 1])) for i, key in enumerate(self.FLOAT32_INJECTIONS)}
        for key, where in self._block_slices.items():
            setattr(self, key, self._block[where])  # views: writes into load_p etc. land in the block
        self._block_pushed = np.full(self._block.size, np.inf, dtype=np.float32)  # nothing pushed yet
        self._block_delta = np.zeros(self._block.size, dtype=np.float32)
        self._rated_ratio = None
        self._vn_hv = net.trafo.vn_hv_kv.to_numpy(float)
        self._vn_lv = net.trafo.vn_lv_kv.to_numpy(float)
        self._bind_setters()
        self._base_ratio = self._trafo_ratios()

    def _bind_setters(self) -> None:
        grid = self.grid
        setters = {"load_p": grid.update_loads_p, "load_q": grid.update_loads_q, "sgen_p": grid.update_sgens_p,
                   "storage_p": grid.update_storages_p}
        self._vector_setters = {key: setters[key] for key in self.FLOAT32_INJECTIONS}
        self._element_setters = {"sgen_q": grid.change_q_sgen, "shunt_q": grid.change_q_shunt}

    def __getstate__(self) -> dict:
        """A copy (pickle or deepcopy) keeps the model and its injections; its own solver is bound
        anew in ``__setstate__`` (lightsim2grid's setters are bound to one grid object)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_vector_setters", "_element_setters")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for key, where in self._block_slices.items():  # a copy breaks views: rebuild them
            self._block[where] = getattr(self, key)
            setattr(self, key, self._block[where])
        self._bind_setters()
        self._block_pushed[:] = np.inf  # the grid copy is told every injection again
        for pushed in self._pushed.values():
            pushed[:] = np.nan
        for i, ratio in enumerate(self._base_ratio):  # and starts from the untapped ratios
            self.grid.change_ratio_trafo(i, float(ratio))
        self._pushed["trafo_tap"][:] = self.initial["trafo_tap"]

    @staticmethod
    def _flat_start(net: pp.pandapowerNet) -> np.ndarray:
        V = np.ones(len(net.bus), dtype=np.complex128)
        if len(net.ext_grid):
            pos = net.bus.index.get_indexer(net.ext_grid.bus)
            V[pos] = net.ext_grid.vm_pu.to_numpy() * np.exp(1j * np.deg2rad(net.ext_grid.va_degree.to_numpy()))
        return V

    def _trafo_ratios(self) -> np.ndarray:
        return np.array([t.ratio for t in self.grid.get_trafos()], dtype=float) if len(self.net.trafo) else np.zeros(0)

    def _forget_start(self) -> None:
        self._V = self._flat.copy()

    def _start(self) -> np.ndarray:
        return self._V.copy()

    def _set_start(self, start: np.ndarray) -> None:
        self._V = start.copy()

    def _push(self) -> None:
        """Send changed injections. lightsim2grid skips a change below 1e-7 MW (it keeps the old
        value); such an element is moved away first, so the solver always has the exact value."""
        rounded, pushed, delta = self._block.astype(np.float32), self._block_pushed, self._block_delta
        np.subtract(rounded, pushed, out=delta)
        np.abs(delta, out=delta)
        top = delta.max()  # inf before the first push; NaN when an injection is (lightsim2grid would skip it)
        if not top < np.inf and not np.isfinite(self._block).all():
            self.check_finite()
        if top > 0.0:
            changed = delta > 0.0
            small = changed & (delta < SKIPPED_CHANGE)
            detour = small.any()
            for key, setter in self._vector_setters.items():
                where = self._block_slices[key]
                if changed[where].any():
                    if detour and small[where].any():
                        setter(small[where], rounded[where] + np.float32(1.0))
                    setter(changed[where], rounded[where])
            pushed[:] = rounded
        for key, setter in self._element_setters.items():
            values, pushed = getattr(self, key), self._pushed[key]
            for i in np.flatnonzero(values != pushed).tolist():
                value = values.item(i)
                if not math.isfinite(value):
                    self.check_finite()
                if abs(value - pushed.item(i)) < SKIPPED_CHANGE:
                    setter(i, value + 1.0)
                setter(i, value)
            pushed[:] = values
        taps, pushed = self.trafo_tap, self._pushed["trafo_tap"]
        changed = np.flatnonzero(taps != pushed)
        if changed.size:
            if not np.isfinite(taps[changed]).all():
                self.check_finite()
            factor = self.tap_ratio_factor()
            tapped0 = self.initial["trafo_tap"]
            factor0 = 1.0 + (tapped0 - self._tap_neutral) * self._tap_step / 100.0
            factor0 = np.where(self._tap_lv, 1.0 / factor0, factor0)
            for i in changed:
                self.grid.change_ratio_trafo(int(i), float(self._base_ratio[i] / factor0[i] * factor[i]))
            pushed[:] = taps

    def solve(self) -> PowerFlowResult:
        self._push()
        grid, result = self.grid, self.result
        V = grid.ac_pf(self._V, self.max_iter, self.tol)
        if V.size == 0:
            for start in (self._dc_start(), self._flat):
                if start is not None:
                    V = grid.ac_pf(start.copy(), self.max_iter, self.tol)
                    if V.size:
                        break
        if V.size == 0:
            self._V = self._flat.copy()
            result.converged = False
            return result
        self._V = V.copy()
        result.converged = True
        np.abs(V, out=result.vm_pu)
        result.va_degree[:] = np.angle(V, deg=True)
        if result.line_loading_percent.size:
            a1, a2 = grid.get_line_res1()[3], grid.get_line_res2()[3]
            np.maximum(a1, a2, out=result.line_loading_percent)
            result.line_loading_percent *= 100.0 / self._line_rating_ka
        if result.trafo_loading_percent.size:
            p1, _, _, a1 = grid.get_trafo_res1()
            a2 = grid.get_trafo_res2()[3]
            np.maximum(a1 * self._vn_hv, a2 * self._vn_lv, out=result.trafo_loading_percent)
            result.trafo_loading_percent *= SQRT3 * 100.0 / self._trafo_rating
            result.trafo_p_hv_mw[:] = p1
        return result

    def _dc_start(self) -> np.ndarray | None:
        V = self.grid.dc_pf(self._flat.copy(), self.max_iter, self.tol)
        return V if V.size else None
