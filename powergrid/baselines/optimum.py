"""The perfect-foresight optimum of one day: an upper bound a trained policy should not cross.

A planner that knows the day's loads, renewables and prices in advance schedules every
generator (P, Q) and storage unit (P) for the whole episode at once, as one mixed-integer linear program
solved by HiGHS (``scipy.optimize.milp``; its only whole-number variables say whether each
storage unit charges or discharges in a step):

- the network is linearised around a reference schedule: each microgrid's import and each of
  its bus voltages move with every device injection by sensitivities measured on the AC model
  (``env.what_if``, finite differences per step); the plan is relinearised around itself;
- generator cost a·P² + b·P + c is convex: it enters as ``SEGMENTS`` linear pieces; the
  power-factor cone is linear and the apparent-power circle an inscribed polygon; a solar or
  wind generator stays within each hour's available power;
- storage energy follows the state of charge with its efficiencies, within its soft limits
  [soc_min, soc_max]; its wear costs ``cost_per_mwh`` per MWh in or out;
- energy bought costs the price, energy sold earns ``sell_price_ratio`` × price;
- voltage outside [V_MIN, V_MAX] costs ``penalty`` per pu, as in the env's reward.

The schedule is then played through the real AC env (see ``powergrid.baselines``) and scored
there, so what is reported is what the env pays, not what the LP believed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from powergrid.envs.networked_grid_env import NetworkedGridEnv
from powergrid.core.safety import V_MAX, V_MIN

__all__ = ["Schedule", "plan_day", "SEGMENTS", "POLYGON_SIDES"]

SEGMENTS = 12  # linear pieces of each generator's quadratic cost
POLYGON_SIDES = 48  # sides of the polygon inscribed in each generator's apparent-power circle
DELTA_MW = 0.01  # the finite-difference step of the sensitivities


@dataclass
class Schedule:
    """Device setpoints per step (rows: steps 1..T; columns: fleet rows)."""

    gen_p: np.ndarray
    gen_q: np.ndarray
    ess_p: np.ndarray

    def injections(self) -> np.ndarray:
        """(T, 2G + S): the columns the sensitivities are taken over."""
        return np.hstack([self.gen_p, self.gen_q, self.ess_p])


def _idle(env: NetworkedGridEnv, steps: int) -> Schedule:
    g, s = env.generators, env.storage
    return Schedule(np.tile(g.p_min, (steps, 1)), np.zeros((steps, g.size)), np.zeros((steps, s.size)))


def _linearize(env: NetworkedGridEnv, around: Schedule):
    """Price, import, voltages and their sensitivities to each injection, per step."""
    steps, G = around.gen_p.shape
    x = around.injections()
    m = x.shape[1]
    price, imports, volts, d_imp, d_vm, caps = [], [], [], [], [], []
    for t in range(steps):
        def solve(column: np.ndarray):
            return env.what_if(t + 1, column[:G], column[G:2 * G], column[2 * G:])

        base = solve(x[t])
        if base is None:
            raise RuntimeError(f"the network does not solve at step {t + 1} of the reference schedule")
        price.append(base["price"])
        caps.append(base["gen_cap"])
        imports.append(base["p_import"])
        volts.append(base["vm"])
        jac_imp, jac_vm = np.zeros((len(base["p_import"]), m)), np.zeros((len(base["vm"]), m))
        for j in range(m):
            probe = x[t].copy()
            probe[j] += DELTA_MW
            moved = solve(probe)
            if moved is None:
                raise RuntimeError(f"the network does not solve at step {t + 1} with injection {j} moved by {DELTA_MW} MW")
            jac_imp[:, j] = (moved["p_import"] - base["p_import"]) / DELTA_MW
            jac_vm[:, j] = (moved["vm"] - base["vm"]) / DELTA_MW
        d_imp.append(jac_imp)
        d_vm.append(jac_vm)
    return np.array(price), np.array(imports), np.array(volts), np.array(d_imp), np.array(d_vm), np.array(caps)


class _Program:
    """A linear program (linear, with a few whole-number variables) written block by block: variables get index arrays, constraints rows."""

    def __init__(self) -> None:
        self.size, self.cost, self.low, self.high, self.integral = 0, [], [], [], []
        self.rows: dict[str, list] = {"ub": [], "eq": []}

    def variables(self, shape: tuple[int, ...], low, high, cost=0.0, integral: bool = False) -> np.ndarray:
        index = np.arange(self.size, self.size + int(np.prod(shape))).reshape(shape)
        self.size += index.size
        for values, target in ((low, self.low), (high, self.high), (cost, self.cost), (float(integral), self.integral)):
            target.append(np.broadcast_to(np.asarray(values, float), shape).ravel())
        return index

    def constrain(self, kind: str, terms: list[tuple[np.ndarray, np.ndarray]], rhs: np.ndarray) -> None:
        """Rows ``sum(coef * x[index]) (<= | ==) rhs``; each term's arrays are (rows, k)."""
        rhs = np.atleast_1d(np.asarray(rhs, float))
        self.rows[kind].append((terms, rhs))

    def _matrix(self, kind: str):
        data, rows, cols, rhs, offset = [], [], [], [], 0
        for terms, b in self.rows[kind]:
            n = len(b)
            for index, coef in terms:
                index = np.asarray(index)
                coef = np.broadcast_to(np.asarray(coef, float), index.shape)
                rows.append(np.repeat(np.arange(offset, offset + n), index.shape[1]))
                cols.append(index.ravel())
                data.append(coef.ravel())
            rhs.append(b)
            offset += n
        if not offset:
            return None, None
        shape = (offset, self.size)
        return sparse.csr_array((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=shape), np.concatenate(rhs)

    def solve(self) -> np.ndarray:
        a_ub, b_ub = self._matrix("ub")
        a_eq, b_eq = self._matrix("eq")
        constraints = [LinearConstraint(a, low, b) for a, low, b in ((a_ub, -np.inf, b_ub), (a_eq, b_eq, b_eq)) if a is not None]
        result = milp(np.concatenate(self.cost), integrality=np.concatenate(self.integral), constraints=constraints,
                      bounds=Bounds(np.concatenate(self.low), np.concatenate(self.high)))
        if result.status != 0:
            raise RuntimeError(f"the day's program failed: {result.message}")
        return result.x


def _program(env: NetworkedGridEnv, lin, around: Schedule) -> tuple[_Program, dict[str, np.ndarray]]:
    price, imports, volts, d_imp, d_vm, caps = lin
    g, s = env.generators, env.storage
    T, G, S, n = len(price), g.size, s.size, len(env.possible_agents)
    dt, penalty, ratio = env.dt_h, float(env.config["penalty"]), float(env.config["sell_price_ratio"])
    lp = _Program()
    # generators: P = p_min + the sum of its cost segments
    p_top = np.minimum(g.p_max, g.s_max)
    width = (p_top - g.p_min) / SEGMENTS
    edges = g.p_min[:, None] + width[:, None] * np.arange(SEGMENTS + 1)
    slope = g.cost_a[:, None] * (edges[:, 1:] + edges[:, :-1]) + g.cost_b[:, None]  # secant of a·P² + b·P
    seg = lp.variables((T, G, SEGMENTS), 0.0, np.broadcast_to(width[:, None], (G, SEGMENTS)), slope * dt)
    q = lp.variables((T, G), g.q_min, g.q_max)
    ch = lp.variables((T, S), 0.0, s.p_max, s.cost_per_mwh * dt)
    dis = lp.variables((T, S), 0.0, -s.p_min, s.cost_per_mwh * dt)
    soc = lp.variables((T, S), s.soc_min, s.soc_max)
    charging = lp.variables((T, S), 0.0, 1.0, integral=True)  # a unit charges or discharges, not both
    buy = lp.variables((T, n), 0.0, np.inf, price[:, None] * dt)
    sell = lp.variables((T, n), 0.0, np.inf, -ratio * price[:, None] * dt)
    nb = volts.shape[1]
    over = lp.variables((T, nb), 0.0, np.inf, penalty)
    under = lp.variables((T, nb), 0.0, np.inf, penalty)
    # every injection as (variable index, coefficient) terms plus a constant, per step and column
    x_ref = around.injections()
    const_x = np.concatenate([g.p_min, np.zeros(G + S)])
    for t in range(T):
        def linear(jac: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
            """Terms of jac @ x(vars) for rows of ``jac`` (columns: gen P, gen Q, storage P)."""
            rows = jac.shape[0]
            jp, jq, je = jac[:, :G], jac[:, G:2 * G], jac[:, 2 * G:]
            return [(np.broadcast_to(seg[t].reshape(1, -1), (rows, G * SEGMENTS)), np.repeat(jp, SEGMENTS, axis=1)),
                    (np.broadcast_to(q[t], (rows, G)), jq), (np.broadcast_to(ch[t], (rows, S)), je),
                    (np.broadcast_to(dis[t], (rows, S)), -je)]
        shift_imp = imports[t] - d_imp[t] @ x_ref[t] + d_imp[t] @ const_x  # value at the variables' zero
        shift_vm = volts[t] - d_vm[t] @ x_ref[t] + d_vm[t] @ const_x
        # import = buy - sell
        lp.constrain("eq", [(buy[t][:, None], 1.0), (sell[t][:, None], -1.0)] + [(i, -c) for i, c in linear(d_imp[t])], shift_imp)
        # over >= v - V_MAX, under >= V_MIN - v
        lp.constrain("ub", [(over[t][:, None], -1.0)] + linear(d_vm[t]), V_MAX - shift_vm)
        lp.constrain("ub", [(under[t][:, None], -1.0)] + [(i, -c) for i, c in linear(d_vm[t])], shift_vm - V_MIN)
        # solar and wind generators: within the hour's available power
        lp.constrain("ub", [(seg[t], np.ones((G, SEGMENTS)))], np.minimum(caps[t], p_top) - g.p_min)
        # storage energy: charging or discharging (else a negative price would pay the plan to burn energy
        # in the round trip, which the delivered net power does not do)
        lp.constrain("ub", [(ch[t][:, None], 1.0), (charging[t][:, None], -s.p_max[:, None])], np.zeros(S))
        lp.constrain("ub", [(dis[t][:, None], 1.0), (charging[t][:, None], -s.p_min[:, None])], -s.p_min)
        previous = [(soc[t - 1][:, None], -1.0)] if t else []
        start = np.zeros(S) if t else s.soc_init.copy()
        lp.constrain("eq", [(soc[t][:, None], 1.0), (ch[t][:, None], -(s.eff_ch * dt / s.capacity)[:, None]),
                            (dis[t][:, None], (dt / (s.eff_dis * s.capacity))[:, None])] + previous, start)
        # power-factor cone |Q| <= q_slope·P + q_idle, and the inscribed apparent-power polygon
        p_terms = (seg[t], -g.q_slope[:, None] * np.ones((G, SEGMENTS)))
        cone_rhs = g.q_slope * g.p_min + g.q_idle
        lp.constrain("ub", [(q[t][:, None], 1.0), p_terms], cone_rhs)
        lp.constrain("ub", [(q[t][:, None], -1.0), p_terms], cone_rhs)
        angles = np.linspace(-math.pi / 2, math.pi / 2, POLYGON_SIDES // 2 + 1)
        radius = g.s_max * math.cos(math.pi / POLYGON_SIDES)
        for theta in angles:
            lp.constrain("ub", [(seg[t], math.cos(theta) * np.ones((G, SEGMENTS))), (q[t][:, None], math.sin(theta))],
                         radius - math.cos(theta) * g.p_min)
    return lp, {"seg": seg, "q": q, "ch": ch, "dis": dis}


def plan_day(env: NetworkedGridEnv, steps: int | None = None, passes: int = 2) -> Schedule:
    """The optimal schedule for the episode ``env`` is in (call ``env.reset(options={'day': d})``
    first): ``passes`` rounds of linearise, solve, relinearise around the plan."""
    steps = int(steps or env.max_episode_steps)
    plan = _idle(env, steps)
    for _ in range(passes):
        lp, var = _program(env, _linearize(env, plan), plan)
        x = lp.solve()
        gen_p = env.generators.p_min + x[var["seg"]].sum(axis=2)
        plan = Schedule(gen_p, x[var["q"]], x[var["ch"]] - x[var["dis"]])
    return plan
