"""What a planner with perfect foresight asks of a grid core: the actions that command given
device setpoints, and the network at a later step of the episode with given injections, the
episode left as it was. A part of :class:`powergrid.core.step.GridCore` (its base class), kept
apart because the step never runs it.
"""
from __future__ import annotations

from typing import Any

import numpy as np


__all__ = ["Planning"]


class Planning:
    """The planning queries of :class:`~powergrid.core.step.GridCore` (see the module doc)."""

    def actions_from_setpoints(self, gen_p: np.ndarray, gen_q: np.ndarray, ess_p: np.ndarray) -> list[np.ndarray]:
        """Each agent's action (agent order) commanding these device setpoints (fleet row order);
        tap changers and capacitor banks hold their settings."""
        lay = self.layout
        flat = np.clip(np.zeros(int(lay.action_offsets[-1])), lay.action_low, lay.action_high)
        flat[lay.gen_p_pos], flat[lay.gen_q_pos], flat[lay.ess_p_pos] = gen_p, gen_q, ess_p
        if lay.discrete:
            flat[lay.discrete_positions] = self.discrete - lay.disc_offset
        return [flat[lo:hi].copy() for lo, hi in zip(lay.action_offsets[:-1], lay.action_offsets[1:])]

    def what_if(self, t: int, gen_p: np.ndarray, gen_q: np.ndarray, ess_p: np.ndarray) -> dict[str, Any] | None:
        """The network at step ``t`` of this episode (its loads, renewables and price) with these
        device injections (fleet row order; storage positive charging), leaving the episode as
        it was: what a planner with perfect foresight sees. ``None`` if the power flow does not
        converge, else ``price``, each microgrid's ``p_import`` (MW), ``vm`` (pu) of the
        microgrids' buses with ``vm_owner``, the agent index of each, ``line_loading`` and
        ``trafo_loading`` (%) of the microgrids' lines and connection transformers (the
        branches safety counts), and ``gen_cap``, the active power each generator has
        available (p_max, or less for a solar or wind one)."""
        out = self.probe(t, np.concatenate([gen_p, gen_q, ess_p])[None])
        if not out["converged"][0]:
            return None
        return {"price": out["price"], "p_import": out["p_import"][0], "vm": out["vm"][0], "vm_owner": self.layout.mg_bus_owner.copy(),
                "line_loading": out["line_loading"][0], "trafo_loading": out["trafo_loading"][0], "gen_cap": out["gen_cap"]}

    def probe(self, t: int, injections: np.ndarray, taps: np.ndarray | None = None) -> dict[str, Any]:
        """:meth:`what_if` for many injections at once: ``injections`` is ``(K, 2G + S)`` (each
        row the generators' P, their Q, the storage units' P). Returns ``converged`` ``(K,)``
        and the results stacked ``(K, ...)`` (a row that did not converge holds NaN), with the
        step's ``price`` and ``gen_cap``. Each solve starts from the tap positions ``taps`` (every
        transformer's; default: as they are now), which the operator's regulators then move.
        The episode, its taps and the warm start of its next step are left as they were."""
        if self.num_envs is not None:
            raise RuntimeError("what_if and probe run on a single copy, not on a batch")
        horizon = self.model.profiles[self.split].shape[0] - self.start_hour
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or not 0 <= int(t) < horizon:
            raise ValueError(f"step t must be a whole number in [0, {horizon}) for this episode, got {t!r}")
        b, at, m, lay = self.backend, self._at, self.model, self.layout
        G, S = m.generators.size, m.storage.size
        injections = np.atleast_2d(np.asarray(injections, dtype=float))
        if injections.shape[1:] != (2 * G + S,):
            raise ValueError(f"injections must have shape (K, {2 * G + S}) (generator P, generator Q, storage P), "
                             f"got {injections.shape}")
        K = len(injections)
        out = {"converged": np.zeros(K, bool), "p_import": np.full((K, len(m.microgrids)), np.nan),
               "vm": np.full((K, lay.mg_bus.size), np.nan), "line_loading": np.full((K, lay.mg_line.size), np.nan),
               "trafo_loading": np.full((K, lay.mg_trafo.size), np.nan)}
        now, start, taps_now = self.t, b.warm_start, b.trafo_tap.copy()
        first = taps_now if taps is None else np.asarray(taps, dtype=float)
        try:
            self.t = int(t)
            self.advance_profiles()
            out["price"], out["gen_cap"] = float(self.price), self.generators.p_cap.copy()
            for k, row in enumerate(injections):
                b.sgen_p[m.generators.element], b.sgen_q[m.generators.element] = row[:G], row[G:2 * G]
                b.storage_p[m.storage.element] = row[2 * G:]
                b.trafo_tap[:] = first
                result = self.regulated_solve()
                if result.converged:
                    out["converged"][k] = True
                    out["p_import"][k] = result.trafo_p_hv_mw[at["mg_trafo"]]
                    out["vm"][k] = result.vm_pu[at["mg_bus"]]
                    out["line_loading"][k] = result.line_loading_percent[at["mg_line"]]
                    out["trafo_loading"][k] = result.trafo_loading_percent[at["mg_trafo"]]
        finally:
            self.t = now
            b.trafo_tap[:] = taps_now
            self.advance_profiles()
            self.push_devices()
            b.warm_start = start
        return out
