"""The fused batched step: one Numba kernel call per step, from the actions to the observations.

A batched env (:class:`powergrid.envs.batched.BatchedMicrogrids`) steps its copies through
:func:`powergrid.core.fused_kernel.fused_step` when it has at least four copies (the Newton
kernel's lanes), its devices are the built-in fleets (generators, storage, renewables)
and its power flow is the Newton kernel; any other setup runs the step core's numpy functions
(:class:`powergrid.core.step.GridCore`), which this kernel is held equal to by a test. The
physics is the same code: the device formulas of :mod:`powergrid.agents.formulas` compiled for
one device's numbers, and the Newton kernel's blocks. Each copy, on Numba's threads:

1. the hour's profiles: loads, generators' caps, renewables' output, price;
2. the actions clipped into the space (flagged per agent) and commanded: generators and storage
   deliver what they can (flagged where that is less), discrete settings follow;
3. the injections into the power flow's arrays (rounded as its fallback would take them);
4. the power flow with the regulators' rounds (:func:`powergrid.powerflow.newton.solve_batch`);
5. the converged results kept, each agent's cost and safety, and its observation.

A copy the Newton kernel gives up on is left at step 4 for the backend's fallback; step 5 then
runs for it in a second call (``conclude``), only in a step that has such a copy.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from powergrid.agents.fleets import GeneratorFleet, RenewableFleet, StorageFleet
from powergrid.core.fused_kernel import conclude, fused_step

__all__ = ["FusedStep", "FusedPlan", "FusedState", "plan_of", "state_of", "unfusable"]

FLEETS = {"generator": GeneratorFleet, "storage": StorageFleet, "renewable": RenewableFleet}


class FusedPlan(NamedTuple):
    """What the kernel needs of a model, fixed at construction. Per flat action entry: its bounds,
    the bounds that flag it, its agent. Per generator (``g_``), storage unit (``s_``) and
    renewable (``r_``): parameters, action positions, profile column, injection element, owner.
    Per load: base powers, profile column, owner. Per discrete setting: action position, offset,
    whether a tap (else a capacitor, ``d_q_step`` Mvar a step), element. Transformers: the terms of
    their tap ratio. Microgrids: connection transformer, buses and lines with their owners. The
    observation: where each block starts in the source vector (``layout.OBSERVATION_SOURCE``),
    then each entry's gather and scale."""

    low: np.ndarray
    high: np.ndarray
    flag_low: np.ndarray
    flag_high: np.ndarray
    entry_agent: np.ndarray
    g_p_min: np.ndarray
    g_p_max: np.ndarray
    g_q_min: np.ndarray
    g_q_max: np.ndarray
    g_s_max: np.ndarray
    g_q_slope: np.ndarray
    g_q_idle: np.ndarray
    g_cost_a: np.ndarray
    g_cost_b: np.ndarray
    g_cost_c: np.ndarray
    g_pos_p: np.ndarray
    g_pos_q: np.ndarray
    g_series: np.ndarray
    g_element: np.ndarray
    g_owner: np.ndarray
    s_capacity: np.ndarray
    s_soc_min: np.ndarray
    s_soc_max: np.ndarray
    s_eff_ch: np.ndarray
    s_eff_dis: np.ndarray
    s_cost: np.ndarray
    s_pos: np.ndarray
    s_element: np.ndarray
    s_owner: np.ndarray
    r_p_max: np.ndarray
    r_series: np.ndarray
    r_element: np.ndarray
    load_base_p: np.ndarray
    load_base_q: np.ndarray
    load_series: np.ndarray
    load_owner: np.ndarray
    price_series: int
    d_pos: np.ndarray
    d_offset: np.ndarray
    d_is_tap: np.ndarray
    d_q_step: np.ndarray
    d_element: np.ndarray
    tap_neutral: np.ndarray
    tap_step: np.ndarray
    tap_lv: np.ndarray
    tap_factor0: np.ndarray
    mg_trafo: np.ndarray
    mg_bus: np.ndarray
    mg_bus_owner: np.ndarray
    mg_line: np.ndarray
    mg_line_owner: np.ndarray
    at_g_p: int
    at_g_q: int
    at_s_p: int
    at_s_soc: int
    at_r_p: int
    at_load_p: int
    at_p_import: int
    at_price: int
    at_vm: int
    at_discrete: int
    source_size: int
    obs_index: np.ndarray
    obs_scale: np.ndarray
    n_agents: int
    dt_h: float
    sell_price_ratio: float


class FusedState(NamedTuple):
    """The running arrays the kernel reads and writes, each ``(B, ...)``: the core's clock, fleets,
    discrete settings and kept results, and the backend's injections at full precision."""

    t: np.ndarray
    start_hour: np.ndarray
    hour: np.ndarray
    price: np.ndarray
    g_p: np.ndarray
    g_q: np.ndarray
    g_p_set: np.ndarray
    g_q_set: np.ndarray
    g_p_cap: np.ndarray
    s_p: np.ndarray
    s_p_set: np.ndarray
    s_soc: np.ndarray
    r_p: np.ndarray
    discrete: np.ndarray
    vm: np.ndarray
    p_import: np.ndarray
    line: np.ndarray
    trafo: np.ndarray
    load_p: np.ndarray
    load_q: np.ndarray
    sgen_p: np.ndarray
    sgen_q: np.ndarray
    storage_p: np.ndarray


def unfusable(core) -> str | None:
    """Why the fused kernel cannot step ``core`` (a batched :class:`GridCore`), or None if it can."""
    from powergrid.powerflow.batched import BatchedNewtonBackend
    from powergrid.powerflow.nr_model import LANES

    if type(core.backend) is not BatchedNewtonBackend:
        return f"its power flow is {core.backend.name!r}, not the Newton kernel"
    if core.num_envs < LANES:
        return f"fewer than {LANES} copies (the Newton kernel's lanes; fewer are solved one at a time)"
    odd = {kind: type(f).__name__ for kind, f in core.fleets.items() if FLEETS.get(kind) is not type(f)}
    if odd:
        return f"device fleets other than the built-in generators, storage and renewables: {odd}"
    if core.regulation is not None and core.backend.regulation is not core.regulation:
        return "its regulators are not stepped inside the power-flow kernel"
    return None


def plan_of(core, obs_index: np.ndarray, obs_scale: np.ndarray) -> FusedPlan:
    """The kernel's plan of a batched core (one that :func:`unfusable` passes)."""
    lay, model, backend = core.layout, core.model, core.backend
    fleets = {kind: core.fleets.get(kind) or cls([]) for kind, cls in FLEETS.items()}
    g, s, r = fleets["generator"], fleets["storage"], fleets["renewable"]
    low, high, flag_low, flag_high, _ = lay.action_bounds
    entry_agent = np.repeat(np.arange(len(lay.agent_ids)), np.diff(lay.action_offsets))
    position = lambda kind, j: lay.action_pos[kind][:, j] if kind in lay.acting else np.zeros(0, np.int64)  # noqa: E731
    series = lambda kind: np.asarray(model.fleet_series[kind], np.int64) if kind in model.fleet_series else np.full(fleets[kind].size, -1)  # noqa: E731
    owner = lambda kind: lay.owner.get(kind, np.zeros(0, np.int64))  # noqa: E731
    q_step = np.zeros(len(lay.discrete_positions))
    q_step[~lay.disc_is_tap] = lay.disc_q_step
    n, at = len(lay.agent_ids), lay.source_at
    neutral, step, lv, factor0 = backend.tap_terms()
    fields = dict(
        low=low, high=high, flag_low=flag_low, flag_high=flag_high, entry_agent=entry_agent,
        g_p_min=g.p_min, g_p_max=g.p_max, g_q_min=g.q_min, g_q_max=g.q_max, g_s_max=g.s_max, g_q_slope=g.q_slope,
        g_q_idle=g.q_idle, g_cost_a=g.cost_a, g_cost_b=g.cost_b, g_cost_c=g.cost_c, g_pos_p=position("generator", 0),
        g_pos_q=position("generator", 1), g_series=series("generator"), g_element=g.element, g_owner=owner("generator"),
        s_capacity=s.capacity, s_soc_min=s.soc_min, s_soc_max=s.soc_max, s_eff_ch=s.eff_ch, s_eff_dis=s.eff_dis,
        s_cost=s.cost_per_mwh, s_pos=position("storage", 0), s_element=s.element, s_owner=owner("storage"),
        r_p_max=r.p_max, r_series=series("renewable"), r_element=r.element,
        load_base_p=core.load_base_p, load_base_q=core.load_base_q, load_series=np.asarray(model.load_series, np.int64),
        load_owner=lay.load_owner, price_series=int(model.price_series),
        d_pos=lay.discrete_positions, d_offset=lay.disc_offset, d_is_tap=lay.disc_is_tap, d_q_step=q_step,
        d_element=lay.disc_element, tap_neutral=neutral, tap_step=step, tap_lv=lv.astype(np.float64), tap_factor0=factor0,
        mg_trafo=lay.mg_trafo, mg_bus=lay.mg_bus, mg_bus_owner=lay.mg_bus_owner, mg_line=lay.mg_line,
        mg_line_owner=lay.mg_line_owner,
        at_g_p=at.get(("generator", "p"), 0), at_g_q=at.get(("generator", "q"), 0), at_s_p=at.get(("storage", "p"), 0),
        at_s_soc=at.get(("storage", "soc"), 0), at_r_p=at.get(("renewable", "p"), 0), at_load_p=at["load_p"],
        at_p_import=at["p_import"], at_price=at["price"], at_vm=at["vm"], at_discrete=at["discrete"],
        source_size=lay.source_size, obs_index=np.asarray(obs_index, np.int64),
        obs_scale=np.asarray(obs_scale, np.float64), n_agents=n, dt_h=float(core.dt_h),
        sell_price_ratio=float(core.sell_price_ratio))
    return FusedPlan(**{k: np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for k, v in fields.items()})  # one kernel


def state_of(core, hour: np.ndarray, price: np.ndarray) -> FusedState:
    """The kernel's view of a batched core's running arrays (a batched core changes them in
    place, never rebinds them, so the view holds for the core's life)."""
    empty = np.zeros((core.num_envs, 0))
    g, s, r = (core.fleets.get(kind) for kind in FLEETS)
    keep, b = core.results, core.backend
    fleet = lambda f, key: getattr(f, key) if f is not None else empty  # noqa: E731
    return FusedState(t=core.t, start_hour=core.start_hour, hour=hour, price=price, g_p=fleet(g, "p"), g_q=fleet(g, "q"),
                      g_p_set=fleet(g, "p_set"), g_q_set=fleet(g, "q_set"), g_p_cap=fleet(g, "p_cap"), s_p=fleet(s, "p"),
                      s_p_set=fleet(s, "p_set"), s_soc=fleet(s, "soc"), r_p=fleet(r, "p"), discrete=core.discrete,
                      vm=keep["vm"], p_import=keep["p_import"], line=keep["line"], trafo=keep["trafo"], load_p=b.load_p,
                      load_q=b.load_q, sgen_p=b.sgen_p, sgen_q=b.sgen_q, storage_p=b.storage_p)


class FusedStep:
    """The fused kernel bound to a batched core and the env's observation buffer ``obs``
    (``(B, obs_dim)`` float32, each agent's gather ``obs_index`` times ``obs_scale`` side by side)."""

    def __init__(self, core, obs_index: np.ndarray, obs_scale: np.ndarray, obs: np.ndarray) -> None:
        self.core, self.obs = core, obs
        self.plan = plan_of(core, obs_index, obs_scale)
        B = core.num_envs
        self.profiles = np.ascontiguousarray(core.model.profiles[core.split])
        self.hour, self.price = np.zeros(B, np.int64), np.zeros(B)
        self.tap = np.ones((B, core.layout.n_trafo))  # the copies' ratio factors, as the kernel takes them
        self.flat = np.zeros((B, self.plan.low.size))
        self.every = np.ones(B, bool)
        self.state = state_of(core, self.hour, self.price)

    def step(self, raw: np.ndarray) -> tuple[np.ndarray, ...]:
        """One step of every copy for the checked actions ``raw`` (``(B, total_dim)``): the
        clipped actions, the per-agent clip flags, the delivered actions, the per-agent limit
        flags, cost and safety, and the power flow's convergence; the observations are in ``obs``."""
        core, backend = self.core, self.core.backend
        B, n = raw.shape[0], self.plan.n_agents
        clipped, limited = np.empty((B, n), bool), np.empty((B, n), bool)
        delivered, cost, safety = np.empty_like(raw), np.empty((B, n)), np.empty((B, n))
        state = self.state
        model, *solver = backend.kernel_arguments(self.tap)
        fused_step(self.plan, state, self.profiles, raw, self.flat, clipped, delivered, limited, cost, safety, self.obs,
                   model, self.every, *solver)
        core.hour, core.price = self.hour, self.price
        r = backend.result
        if not r.converged.all():
            failed = ~r.converged
            backend.finish(failed, self.tap)
            conclude(self.plan, state, np.flatnonzero(failed), r.converged, r.vm_pu, r.line_loading_percent,
                     r.trafo_loading_percent, r.trafo_p_hv_mw, cost, safety, self.obs)
        return self.flat, clipped, delivered, limited, cost, safety, r.converged
