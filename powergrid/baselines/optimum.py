"""The perfect-foresight optimum of one episode: the bound no policy should cross.

A planner that knows the episode's loads, renewables and prices in advance schedules every
generator (P, Q) and storage unit (P) for every step at once, to maximise exactly the return
the env pays, summed over agents (:class:`~powergrid.envs.networked_grid_env.NetworkedGridEnv`):

- cost: fuel a·P² + b·P + c, storage throughput, energy bought at the price and sold at
  ``sell_price_ratio`` × price, less the energy left in storage at the end at
  ``stored_energy_value``;
- safety, times ``penalty``: voltage outside [V_MIN, V_MAX] on the microgrids' buses, and line
  and connection-transformer loading above 100 %;
- physics: P and Q within each generator's limits, its apparent-power circle and power-factor
  cone, solar and wind within the hour's available power; storage within its rating and its
  window [soc_min, soc_max], its state of charge moving by the delivered energy.

The AC network makes this a nonlinear program. It is solved by sequential linear programming
with a trust region (HiGHS, through scipy). Around the current schedule, each microgrid's
import, its buses' voltages and its branches' loading move with each injection by
sensitivities measured on the AC model (one extra power flow per injection and step); every
other term is exact (the fuel cost through its tangents, exchange and violations as
piecewise-linear terms, storage as linear dynamics, a unit charging or discharging, never
both). The schedule the program proposes is replayed in the env: kept if the env pays more,
else the trust region shrinks. It stops when the program, within its trust region, predicts
less than ``tolerance`` × |return| to gain. What is reported is what the env pays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from powergrid.baselines.play import play_schedule
from powergrid.core.safety import V_MAX, V_MIN
from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["Schedule", "plan_day", "passive_schedule"]

DELTA_MW = 1e-3  # the finite-difference step of the sensitivities (MW or Mvar)
TANGENTS = 16  # fixed tangents of each quadratic fuel cost, besides those around the current schedule
POLYGON_SIDES = 256  # of the polygon inscribed in an apparent-power circle (where the circle can bind)


@dataclass
class Schedule:
    """Device setpoints per step (rows: steps 1..T; columns: fleet rows), and what the env paid
    for them when the planner last replayed them."""

    gen_p: np.ndarray
    gen_q: np.ndarray
    ess_p: np.ndarray
    episode_return: float = math.nan
    iterations: int = 0

    def injections(self) -> np.ndarray:
        """(T, 2G + S): generator P, generator Q, storage P."""
        return np.hstack([self.gen_p, self.gen_q, self.ess_p])

    def actions(self, env: NetworkedGridEnv) -> np.ndarray:
        """(T, D): each step's flat action (all agents' actions side by side) commanding it."""
        return np.array([np.concatenate(env.core.actions_from_setpoints(p, q, e))
                         for p, q, e in zip(self.gen_p, self.gen_q, self.ess_p)])


def passive_schedule(env: NetworkedGridEnv) -> Schedule:
    """Doing nothing: solar and wind at what the weather gives, dispatchable generators idle at
    p_min, no reactive power, storage idle (the episode ``env`` is in)."""
    T, g, s = env.max_episode_steps, env.generators, env.storage
    caps = np.array([env.core.probe(t, np.zeros((0, 2 * g.size + s.size)))["gen_cap"] for t in range(1, T + 1)])
    solar_or_wind = env.core.model.follows_weather("generator")
    gen_p = np.where(solar_or_wind, np.minimum(caps, np.minimum(g.p_max, g.s_max)), g.p_min)
    return Schedule(gen_p, np.zeros((T, g.size)), np.zeros((T, s.size)))


def plan_day(env: NetworkedGridEnv, tolerance: float = 1e-7, max_iterations: int = 80) -> Schedule:
    """The optimal schedule of the episode ``env`` is in (``env.reset(options={'day': d})``
    first); ``env`` is left reset at the start of that day.

    Where the schedule can reach a violation, the penalty's kink can hold the linear steps in a
    poor corner; the plan is then also approached from the cheapest schedule that ignores
    safety (planned at penalty 0), and the better of the two is kept."""
    planner = _Planner(env)
    plan = planner.solve(tolerance, max_iterations)
    if planner.violable and planner.penalty > 0:
        cheapest = _Planner(env, penalty=0.0).solve(tolerance, max_iterations)
        again = _Planner(env).solve(tolerance, max_iterations, start=cheapest.injections())
        if again.episode_return > plan.episode_return:  # both paid at the env's penalty
            again.iterations += plan.iterations + cheapest.iterations
            return again
    return plan


class _Program:
    """A linear program (with a few whole-number variables) written block by block: variables
    get index arrays, constraints rows."""

    def __init__(self) -> None:
        self.size, self.cost, self.low, self.high, self.integral = 0, [], [], [], []
        self.rows: dict[str, list] = {"ub": [], "eq": []}

    def variables(self, shape: tuple[int, ...], low, high, cost=0.0, integral=False) -> np.ndarray:
        index = np.arange(self.size, self.size + int(np.prod(shape))).reshape(shape)
        self.size += index.size
        for values, target in ((low, self.low), (high, self.high), (cost, self.cost), (integral, self.integral)):
            target.append(np.broadcast_to(np.asarray(values, float), shape).ravel())
        return index

    def constrain(self, kind: str, terms: list[tuple[np.ndarray, np.ndarray]], rhs) -> None:
        """Rows ``sum_k coef[..., k] · x[index[..., k]] (<= | ==) rhs``. Each term's index and
        coefficient broadcast together; the shapes of all terms but their last axis broadcast
        to the rows' shape (``rhs``: one value per row, flat)."""
        shapes = [np.broadcast_shapes(np.shape(i), np.shape(c)) for i, c in terms]
        rows = np.broadcast_shapes(*[shape[:-1] for shape in shapes])
        n = math.prod(rows)
        if n:
            blocks = [(np.broadcast_to(i, rows + shape[-1:]).reshape(n, -1), np.broadcast_to(np.asarray(c, float), rows + shape[-1:]).reshape(n, -1))
                      for (i, c), shape in zip(terms, shapes)]
            self.rows[kind].append((blocks, np.broadcast_to(np.asarray(rhs, float).ravel(), (n,))))

    def _matrix(self, kind: str):
        data, rows, cols, rhs, offset = [], [], [], [], 0
        for blocks, b in self.rows[kind]:
            n = len(b)
            for index, coef in blocks:
                rows.append(np.repeat(np.arange(offset, offset + n), index.shape[1]))
                cols.append(index.ravel())
                data.append(coef.ravel())
            rhs.append(b)
            offset += n
        if not offset:
            return None, None
        a = sparse.csr_array((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(offset, self.size))
        return a, np.concatenate(rhs)

    def solve(self) -> tuple[np.ndarray, float]:
        a_ub, b_ub = self._matrix("ub")
        a_eq, b_eq = self._matrix("eq")
        constraints = [LinearConstraint(a, low, b) for a, low, b in ((a_ub, -np.inf, b_ub), (a_eq, b_eq, b_eq)) if a is not None]
        result = milp(np.concatenate(self.cost), integrality=np.concatenate(self.integral), constraints=constraints,
                      bounds=Bounds(np.concatenate(self.low), np.concatenate(self.high)),
                      options={"mip_rel_gap": 1e-9})
        if result.status != 0:
            raise RuntimeError(f"the episode's program failed: {result.message}")
        return result.x, float(result.fun)


class _Linearization:
    """The network around a schedule: at each step, the value and the sensitivity to each
    injection of every microgrid's import, its buses' voltages and its branches' loading,
    from the tap positions the step started from when the schedule was played (``taps``:
    the operator's regulators move them, so they depend on the steps before)."""

    KEYS = ("p_import", "vm", "line_loading", "trafo_loading")

    def __init__(self, env: NetworkedGridEnv, x: np.ndarray, taps: np.ndarray) -> None:
        T, m = x.shape
        self.base, self.jac = {}, {}
        probes = [env.core.probe(t + 1, np.vstack([x[t], x[t] + DELTA_MW * np.eye(m)]), taps[t]) for t in range(T)]
        for t, out in enumerate(probes):
            if not out["converged"].all():
                raise RuntimeError(f"the network does not solve at step {t + 1} around the schedule being planned")
        for key in self.KEYS:
            values = np.stack([out[key] for out in probes])  # (T, 1 + m, k)
            self.base[key] = values[:, 0]
            self.jac[key] = np.swapaxes(values[:, 1:] - values[:, :1], 1, 2) / DELTA_MW  # (T, k, m)
        self.price = np.array([out["price"] for out in probes])
        self.cap = np.array([out["gen_cap"] for out in probes])


class _Planner:
    """One episode's program, and the trust-region loop around it."""

    def __init__(self, env: NetworkedGridEnv, penalty: float | None = None) -> None:
        lay = env.layout
        if lay.discrete:
            raise ValueError("the optimum plans generators and storage; this model has tap changers or capacitor banks "
                             f"an agent commands ({[d.name for d, _ in lay.discrete]}), which it does not plan")
        others = sorted(set(lay.acting) - {"generator", "storage"})
        if others:
            raise ValueError(f"the optimum plans generators and storage; this model has devices of kinds {others} it does not plan")
        if env.protocol is not None:
            raise ValueError("the optimum plans an env without a trading protocol (its trades change the costs)")
        if env.episode_day is None:
            raise RuntimeError("plan_day plans the episode env is in: call env.reset(options={'day': d}) first")
        self.env, self.g, self.s = env, env.generators, env.storage
        self.T, self.G, self.S, self.n = env.max_episode_steps, self.g.size, self.s.size, len(env.possible_agents)
        self.day = env.episode_day
        cfg = env.config
        self.dt, self.ratio = env.dt_h, float(cfg["sell_price_ratio"])
        self.penalty = float(cfg["penalty"] if penalty is None else penalty)  # what the program charges a violation
        self.violable = False  # whether a violation was ever within the program's reach
        self.value = env.core.energy_value
        g, s = self.g, self.s
        self.p_top = np.minimum(g.p_max, g.s_max)
        q_reach = np.maximum(np.maximum(-g.q_min, g.q_max), 0.0)
        q_reach = np.where(g.q_slope > 0, np.minimum(q_reach, g.q_slope * self.p_top + g.q_idle), q_reach)
        self.circle = np.flatnonzero(self.p_top ** 2 + q_reach ** 2 > g.s_max ** 2 * (1 - 1e-12))  # where it can bind
        self.cone = np.flatnonzero(g.q_slope > 0)
        self.quadratic = np.flatnonzero(g.cost_a > 0)
        self.span = np.concatenate([self.p_top - g.p_min, g.q_max - g.q_min, s.p_max - s.p_min])
        self.charge_or_discharge = np.zeros((self.T, self.S), bool)  # units that need a whole-number choice
        self.buy_or_sell = np.zeros((self.T, self.n), bool)

    # ------------------------------------------------------------------ loop
    def solve(self, tolerance: float, max_iterations: int, start: np.ndarray | None = None) -> Schedule:
        """From ``start`` (injections; default: doing nothing)."""
        env = self.env
        x = passive_schedule(env).injections() if start is None else start
        value, taps = self._play(x)
        radius, iterations = 1.0, 0
        while iterations < max_iterations:
            iterations += 1
            lin = _Linearization(env, x, taps)
            y, model_cost = self._step(lin, x, radius * self.span)
            predicted = -value - model_cost
            if predicted <= tolerance * max(abs(value), 1.0):
                break
            candidate, candidate_taps = self._play(y)
            gain = candidate - value
            if gain > 0.1 * predicted:
                x, value, taps = y, candidate, candidate_taps
                if gain > 0.75 * predicted:
                    radius = min(2.0 * radius, 1.0)
            else:
                radius *= 0.25
                if radius < 1e-7:
                    break
        env.reset(options={"day": self.day})
        G = self.G
        return Schedule(x[:, :G], x[:, G:2 * G], x[:, 2 * G:], episode_return=value, iterations=iterations)

    def _play(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The return the env pays for injections ``x`` (with violations at the program's
        penalty), and the tap positions each step started from."""
        G, env, taps = self.G, self.env, []
        actions = Schedule(x[:, :G], x[:, G:2 * G], x[:, 2 * G:]).actions(env)
        _, cost, safety = play_schedule(env, self.day, actions, before_step=lambda step: taps.append(env.backend.trafo_tap.copy()))
        return -(cost + self.penalty * safety), np.array(taps)

    def _step(self, lin: _Linearization, x: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, float]:
        """The program's best schedule within ``radius`` (per injection) of ``x``, and its cost;
        a unit found charging and discharging at once (or a microgrid buying and selling) gets
        a whole-number choice there, and the program is solved again."""
        for _ in range(4):
            lp, var, constant = self._program(lin, x, radius)
            solution, cost = lp.solve()
            ch, dis = solution[var["ch"]], solution[var["dis"]]
            buy, sell = solution[var["buy"]], solution[var["sell"]]
            both = (np.minimum(ch, dis) > 1e-9) & ~self.charge_or_discharge
            trades = (np.minimum(buy, sell) > 1e-9) & ~self.buy_or_sell
            if not both.any() and not trades.any():
                break
            self.charge_or_discharge |= both
            self.buy_or_sell |= trades
        y = np.hstack([solution[var["p"]], solution[var["q"]], ch - dis])
        return y, cost + constant

    # --------------------------------------------------------------- program
    def _program(self, lin: _Linearization, x: np.ndarray, radius: np.ndarray) -> tuple[_Program, dict, float]:
        g, s, T, G, S, n, dt = self.g, self.s, self.T, self.G, self.S, self.n, self.dt
        lp = _Program()
        xp, xq, xe = x[:, :G], x[:, G:2 * G], x[:, 2 * G:]
        rp, rq, re = radius[:G], radius[G:2 * G], radius[2 * G:]
        p_high = np.minimum(np.minimum(lin.cap, self.p_top), xp + rp)
        p_low = np.minimum(np.maximum(g.p_min, xp - rp), p_high)
        linear_fuel = np.where(g.cost_a > 0, 0.0, g.cost_b) * dt
        p = lp.variables((T, G), p_low, p_high, linear_fuel)
        q = lp.variables((T, G), np.maximum(g.q_min, xq - rq), np.minimum(g.q_max, xq + rq))
        ch = lp.variables((T, S), 0.0, s.p_max, s.cost_per_mwh * dt)
        dis = lp.variables((T, S), 0.0, -s.p_min, s.cost_per_mwh * dt)
        terminal = np.zeros((T, S))
        terminal[-1] = -self.value * s.capacity
        soc = lp.variables((T, S), s.soc_min, s.soc_max, terminal)
        price = lin.price[:, None] * dt
        buy = lp.variables((T, n), 0.0, np.inf, price)
        sell = lp.variables((T, n), 0.0, np.inf, -self.ratio * price)
        constant = float(np.sum(np.where(g.cost_a > 0, 0.0, g.cost_c)) * dt * T + self.value * np.dot(s.capacity, s.soc_init))
        # every injection x(vars) = [p, q, ch - dis]; a network quantity is base + J (x(vars) - x)
        def network(key: str) -> tuple[list, np.ndarray]:
            """(terms of J x(vars), base - J x) for ``key``, rows (T, k)."""
            jac = lin.jac[key]
            jp, jq, je = jac[..., :G], jac[..., G:2 * G], jac[..., 2 * G:]
            terms = [(p[:, None, :], jp), (q[:, None, :], jq), (ch[:, None, :], je), (dis[:, None, :], -je)]
            return terms, lin.base[key] - np.einsum("tkm,tm->tk", jac, x)

        def reach(key: str) -> tuple[np.ndarray, np.ndarray]:
            """The least and most of ``key`` within the variables' bounds (per step and row)."""
            jac = lin.jac[key]
            low = np.hstack([p_low, np.maximum(g.q_min, xq - rq), np.maximum(s.p_min, xe - re)])[:, None, :] - x[:, None, :]
            high = np.hstack([p_high, np.minimum(g.q_max, xq + rq), np.minimum(s.p_max, xe + re)])[:, None, :] - x[:, None, :]
            spread = np.maximum(jac * low, jac * high), np.minimum(jac * low, jac * high)
            return lin.base[key] + spread[1].sum(axis=2), lin.base[key] + spread[0].sum(axis=2)

        # import = buy - sell (a whole-number choice where a microgrid could gain by both at once)
        terms, shift = network("p_import")
        lp.constrain("eq", [(buy[..., None], 1.0), (sell[..., None], -1.0)] + [(i, -c) for i, c in terms], shift.ravel())
        if self.buy_or_sell.any():
            t, a = np.nonzero(self.buy_or_sell)
            low, high = reach("p_import")
            bound = np.maximum(np.abs(low), np.abs(high))[t, a] + 1.0
            buying = lp.variables((len(t),), 0.0, 1.0, integral=True)
            lp.constrain("ub", [(buy[t, a][:, None], 1.0), (buying[:, None], -bound[:, None])], np.zeros(len(t)))
            lp.constrain("ub", [(sell[t, a][:, None], 1.0), (buying[:, None], bound[:, None])], bound)
        # safety: violations beyond the band and the ratings, where the trust region can reach them
        for key, top, bottom in (("vm", V_MAX, V_MIN), ("line_loading", 100.0, None), ("trafo_loading", 100.0, None)):
            unit = 1.0 if key == "vm" else 0.01  # loading's violation is a fraction
            low, high = reach(key)
            terms, shift = network(key)
            for sign, limit, rows in ((1.0, top, high >= top - 1e-9), (-1.0, bottom, low <= (bottom or 0.0) + 1e-9)):
                if limit is None or not rows.any():
                    continue
                t, k = np.nonzero(rows)
                self.violable = True
                excess = lp.variables((len(t),), 0.0, np.inf, self.penalty)
                row_terms = [(i[t, 0], sign * unit * c[t, k]) for i, c in terms]
                lp.constrain("ub", [(excess[:, None], -1.0)] + row_terms, sign * unit * (limit - shift[t, k]))
        # storage: state of charge by the delivered energy; within the trust region; charge or discharge
        gain, draw = s.eff_ch * dt / s.capacity, dt / (s.eff_dis * s.capacity)
        lp.constrain("eq", [(soc[:1].T, 1.0), (ch[:1].T, -gain[:, None]), (dis[:1].T, draw[:, None])], s.soc_init)
        if T > 1:
            lp.constrain("eq", [(soc[1:, :, None], 1.0), (soc[:-1, :, None], -1.0), (ch[1:, :, None], -gain[:, None]),
                                (dis[1:, :, None], draw[:, None])], np.zeros((T - 1) * S))
        lp.constrain("ub", [(ch[..., None], 1.0), (dis[..., None], -1.0)], (xe + re).ravel())
        lp.constrain("ub", [(ch[..., None], -1.0), (dis[..., None], 1.0)], (re - xe).ravel())
        if self.charge_or_discharge.any():
            t, u = np.nonzero(self.charge_or_discharge)
            charging = lp.variables((len(t),), 0.0, 1.0, integral=True)
            lp.constrain("ub", [(ch[t, u][:, None], 1.0), (charging[:, None], -s.p_max[u][:, None])], np.zeros(len(t)))
            lp.constrain("ub", [(dis[t, u][:, None], 1.0), (charging[:, None], -s.p_min[u][:, None])], -s.p_min[u])
        # generators: fuel through its tangents, the power-factor cone, the apparent-power polygon
        if self.quadratic.size:
            k = self.quadratic
            fuel = lp.variables((T, k.size), -np.inf, np.inf, dt)
            a, b, c = g.cost_a[k], g.cost_b[k], g.cost_c[k]
            grid = np.linspace(g.p_min[k], self.p_top[k], TANGENTS)  # (TANGENTS, k)
            local = xp[:, k][:, None, :] + np.array([-0.5, -0.1, 0.0, 0.1, 0.5])[None, :, None] * rp[k]
            points = np.concatenate([np.broadcast_to(grid, (T,) + grid.shape), local], axis=1)  # (T, P, k)
            points = np.clip(points, g.p_min[k], self.p_top[k])
            slope, icpt = 2 * a * points + b, c - a * points ** 2
            lp.constrain("ub", [(p[:, None, k, None], slope[..., None]), (fuel[:, None, :, None], -1.0)], -icpt)
        if self.cone.size:
            k = self.cone
            for sign in (1.0, -1.0):
                lp.constrain("ub", [(q[:, k][..., None], sign), (p[:, k][..., None], -g.q_slope[k][:, None])],
                             np.broadcast_to(g.q_idle[k], (T, k.size)).ravel())
        if self.circle.size:
            k = self.circle
            edges = np.linspace(-math.pi / 2, math.pi / 2, POLYGON_SIDES // 2 + 1)
            middle, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * (edges[1] - edges[0])
            for phi in middle:
                lp.constrain("ub", [(p[:, k][..., None], math.cos(phi)), (q[:, k][..., None], math.sin(phi))],
                             np.broadcast_to(g.s_max[k] * math.cos(half), (T, k.size)).ravel())
        return lp, {"p": p, "q": q, "ch": ch, "dis": dis, "buy": buy, "sell": sell}, constant
