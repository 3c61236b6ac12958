"""Batched backend: B copies of one network, solved together by the Numba kernel of
:mod:`powergrid.powerflow.newton`, with a per-copy fallback.

Injection arrays have a leading batch axis (``load_p[b, k]`` is load ``k`` of copy ``b``, in the
row order of the pandapower tables); results too (``result.vm_pu[b]``, ``result.converged[b]``).
Each copy warm-starts from its own last voltages. A copy the kernel cannot solve goes to the
fallback backend (lightsim2grid by default: it retries from a DC and a flat start); if that
fails too the copy reports ``converged=False`` and keeps its last results.

Injections the fallback receives at float32 resolution (lightsim2grid's vector setters) reach
the kernel rounded the same way, so a batched copy and a single env see the same network.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from powergrid.powerflow.base import PowerFlowBackend, PowerFlowResult
from powergrid.powerflow import newton
from powergrid.powerflow.newton import build_model, solve_batch, solve_serial
from powergrid.powerflow.nr_model import LANES

if TYPE_CHECKING:
    import pandapower as pp

    from powergrid.core.net_handle import NetHandle

__all__ = ["BatchedNewtonBackend", "NewtonBackend", "OneCopyBackend"]


class BatchedNewtonBackend(PowerFlowBackend):
    """``num_envs`` copies of ``net``'s power flow (see the module doc)."""

    name = "numba-batched"
    build = staticmethod(build_model)  # the model of a net, and the kernel that solves it
    kernel = staticmethod(solve_batch)
    serial_kernel = staticmethod(solve_serial)  # for fewer than LANES copies (one lane, no threads)
    kernel_regulates = True  # the kernel steps the regulators (take_regulation)

    def __init__(self, net: pp.pandapowerNet | NetHandle, num_envs: int, fallback: PowerFlowBackend | None = None,
                 max_iter: int = 20, tol: float = 1e-9, angles: bool = True) -> None:
        """``angles=False`` leaves ``result.va_degree`` unset (saves about 1 µs per copy)."""
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        super().__init__(net)
        net = self.net
        if fallback is None:
            from powergrid.powerflow.lightsim import LightSimBackend
            fallback = LightSimBackend(net)
        self.fallback, self.num_envs = fallback, int(num_envs)
        self.model = self.build(net)
        self.max_iter, self.tol, self.angles = int(max_iter), float(tol), bool(angles)
        B = self.num_envs
        for key in self.INJECTIONS:
            setattr(self, key, np.tile(self.initial[key], (B, 1)))
        self._rounded = {key: np.zeros((B, self.initial[key].size), np.float32)
                         for key in getattr(fallback, "FLOAT32_INJECTIONS", ())}
        self._factor0 = self.tap_ratio_factor()[0].copy()
        self._flat = np.ones(len(self.model.bus_order), np.complex128)
        self._flat[self.model.slack] = self.model.v_slack
        self._V = np.tile(self._flat, (B, 1))
        self._all = np.ones(B, bool)
        self.iterations = np.zeros(B, np.int64)
        self.fallback_solves = 0
        self._lanes = (0.0,) * (LANES if B >= LANES else 1)  # copies in lockstep (see solve_batch)
        self._rounds = np.zeros(B, np.int64)  # regulator rounds each copy's solve has made
        self.regulation = None  # the regulators the kernel steps, once taken (take_regulation)
        self._regulators = self._regulator_table(None)
        n_bus, n_line, n_trafo = len(net.bus), len(net.line), len(net.trafo)
        self.result = PowerFlowResult(np.zeros(B, bool), np.ones((B, n_bus)), np.zeros((B, n_bus)), np.zeros((B, n_line)),
                                      np.zeros((B, n_trafo)), np.zeros((B, n_trafo)))

    def reset(self, rows: np.ndarray | None = None) -> None:
        """Copies ``rows`` (a boolean mask; all by default) back to the built injections and a flat start."""
        rows = self._all if rows is None else rows
        for key, value in self.initial.items():
            getattr(self, key)[rows] = value
        self._V[rows] = self._flat

    def _forget_start(self) -> None:
        self._V[:] = self._flat

    def _start(self) -> np.ndarray:
        return self._V.copy()

    def _set_start(self, start: np.ndarray) -> None:
        self._V[...] = start

    def take_regulation(self, regulation) -> bool:
        """Run ``regulation``'s controllers (a :class:`powergrid.core.regulation.Regulation`)
        inside the kernel: each solve then steps them and solves again until no tap moves."""
        if not self.kernel_regulates:
            return False
        self.regulation = regulation
        self._regulators = self._regulator_table(regulation)
        return True

    def _regulator_table(self, regulation) -> tuple:
        """The kernel's arguments for ``regulation`` (None: no regulators): their transformer
        rows, the internal buses they regulate, their table (columns ``newton.SETPOINT``...)
        and the most rounds of a solve."""
        if regulation is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 10)), 0
        k = regulation.trafo
        columns = {newton.SETPOINT: regulation.setpoint, newton.BAND: regulation.band, newton.STEP: regulation.step,
                   newton.SIGN: regulation.sign, newton.TAP_MIN: regulation.tap_min, newton.TAP_MAX: regulation.tap_max,
                   newton.NEUTRAL: self._tap_neutral[k], newton.STEP_PERCENT: self._tap_step[k],
                   newton.LV_SIDE: self._tap_lv[k], newton.FACTOR0: self._factor0[k]}
        table = np.zeros((k.size, len(columns)))
        for column, values in columns.items():
            table[:, column] = values
        return k.astype(np.int64), self.model.bus_order[regulation.bus], table, int(regulation.rounds)

    def solve(self, rows: np.ndarray | None = None) -> PowerFlowResult:
        """Solve the copies in ``rows`` (a boolean mask; all by default), with the regulators'
        rounds if this backend took them; a copy the kernel gives up on goes to the fallback
        (:meth:`finish`)."""
        active = self._all if rows is None else rows
        for key, buffer in self._rounded.items():
            np.copyto(buffer, getattr(self, key), casting="same_kind")
        tap = self.tap_ratio_factor() / self._factor0
        self._rounds[active] = 0
        self._run_kernel(active, tap)
        return self.finish(active, tap)

    def finish(self, pending: np.ndarray, tap: np.ndarray) -> PowerFlowResult:
        """After a kernel pass over the copies ``pending`` (a mask) at ratio factors ``tap``: each
        it gave up on goes to the fallback; if that solves it, the kernel carries on with its
        regulators from there (in at most one more pass per round, so a copy the kernel cannot
        solve at all keeps the fallback's)."""
        r, most_rounds = self.result, self._regulators[-1]
        for attempt in range(most_rounds + 1):
            failed = pending & ~r.converged
            if not failed.any():
                break
            self.check_finite()  # a NaN input fails in the kernel: name it rather than fall back
            for b in np.flatnonzero(failed):
                self._solve_with_fallback(int(b))
            pending = failed & r.converged & (self._rounds < most_rounds)
            if not pending.any() or attempt == most_rounds:
                break
            self._run_kernel(pending, tap)
        return r

    def kernel_arguments(self, tap: np.ndarray) -> tuple:
        """The kernel's arguments but the copies to solve: the model, the warm starts, the
        injections (rounded where the fallback rounds them), the ratio factors ``tap``, ...,
        the regulators and the lanes (see :func:`powergrid.powerflow.newton.solve_batch`)."""
        r = self.result
        injection = [self._rounded.get(key, getattr(self, key)) for key in ("load_p", "load_q", "sgen_p", "sgen_q", "storage_p")]
        return (self.model, self._V, *injection, self.shunt_q, tap, self.tol, self.max_iter, r.converged, self.iterations,
                r.vm_pu, r.va_degree, r.line_loading_percent, r.trafo_loading_percent, r.trafo_p_hv_mw, self.angles,
                *((self.trafo_tap, *self._regulators, self._rounds, self._lanes) if self.kernel_regulates else ()))

    def tap_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per transformer: neutral tap, percent per step, whether the tap is on the lv side, and
        the ratio factor the model was built at (what turns a tap position into the kernel's factor)."""
        return self._tap_neutral, self._tap_step, self._tap_lv, self._factor0

    def _run_kernel(self, active: np.ndarray, tap: np.ndarray) -> None:
        kernel = self.serial_kernel if self.num_envs < LANES else self.kernel
        model, *rest = self.kernel_arguments(tap)
        kernel(model, active, *rest)

    def _solve_with_fallback(self, b: int) -> None:
        """One copy through the fallback backend, from its own retry sequence."""
        fb, r = self.fallback, self.result
        self.fallback_solves += 1
        for key in self.INJECTIONS:
            getattr(fb, key)[:] = getattr(self, key)[b]
        fb._forget_start()
        out = fb.solve()
        r.converged[b] = out.converged
        if not out.converged:
            self._V[b] = self._flat
            return
        r.vm_pu[b], r.va_degree[b] = out.vm_pu, out.va_degree
        r.line_loading_percent[b], r.trafo_loading_percent[b] = out.line_loading_percent, out.trafo_loading_percent
        r.trafo_p_hv_mw[b] = out.trafo_p_hv_mw
        self._V[b, self.model.bus_order] = out.vm_pu * np.exp(1j * np.deg2rad(out.va_degree))


class OneCopyBackend(PowerFlowBackend):
    """One net solved by a batched backend's kernel (``batch_class``) as a batch of one,
    warm-started from its last voltages; its arrays are the batch's, seen without the batch axis."""

    batch_class: type[BatchedNewtonBackend]
    default_max_iter = 20

    def __init__(self, net: pp.pandapowerNet | NetHandle, max_iter: int | None = None, tol: float = 1e-9) -> None:
        super().__init__(net)
        max_iter = self.default_max_iter if max_iter is None else max_iter
        self._batch = self.batch_class(self._net, 1, max_iter=max_iter, tol=tol)
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

    def take_regulation(self, regulation) -> bool:
        return self._batch.take_regulation(regulation)

    @property
    def iterations(self) -> int:
        """Iterations (Newton steps, or sweeps) the last solve took, its regulators' re-solves
        included."""
        return int(self._batch.iterations[0])

    @property
    def fallback(self) -> PowerFlowBackend:
        """What solves a state the kernel cannot (lightsim2grid)."""
        return self._batch.fallback

    @property
    def fallback_solves(self) -> int:
        """Solves the kernel gave to its fallback so far."""
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


class NewtonBackend(OneCopyBackend):
    """One net solved by the Numba Newton kernel (lightsim2grid takes what it cannot solve)."""

    name = "newton"
    batch_class = BatchedNewtonBackend
