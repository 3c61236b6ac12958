"""The step core: the running state of a model and the functions of one step, over a batch axis.

``GridCore(model, layout, backend)`` runs one copy; ``core.batched(B)`` runs B copies in
lockstep with the same functions, written over leading axes (``x[idx]`` for one copy,
``x[:, idx]`` for a batch). One centralized step is::

    core.advance_profiles()             # loads, renewables and price of the hour
    core.apply_actions(flat)            # agent actions -> device setpoints (what devices deliver)
    core.push_devices()                 # delivered injections -> the power-flow backend
    converged = core.solve()            # one AC power flow (B copies: one Numba kernel call)
    cost, safety = core.score()         # per agent
    source = core.observation_source()  # every observed number; agents gather from it

The single env, the batched env and the event-driven driver all call these; distributed mode
replaces ``apply_actions`` and ``push_devices`` by the messages the sites exchange.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from powergrid.agents.devices import exchange_cost, exchange_costs
from powergrid.agents.fleets import Fleet
from powergrid.core.layout import Layout
from powergrid.core.model import GridModel
from powergrid.core.planning import Planning
from powergrid.core.regulation import regulate
from powergrid.core.safety import overload, voltage_violation
from powergrid.powerflow.base import PowerFlowBackend

__all__ = ["GridCore"]


class GridCore(Planning):
    """State (fleets, discrete settings, last converged results, clock) and the step functions."""

    dt_h = 1.0  # hours per step: the profiles are hourly

    def __init__(self, model: GridModel, layout: Layout, backend: PowerFlowBackend, num_envs: int | None = None) -> None:
        self.model, self.layout, self.backend, self.num_envs = model, layout, backend, num_envs
        batch = () if num_envs is None else (num_envs,)
        #: every fleet kind -> its running fleet (state with a leading batch axis for a batch)
        self.fleets = {kind: f.batched(num_envs) if num_envs else f.copy() for kind, f in model.fleets.items()}
        self.discrete = np.tile(layout.disc_initial, batch + (1,)) if batch else layout.disc_initial.copy()
        self.results = {"vm": np.ones(batch + (layout.n_bus,)), "p_import": np.zeros(batch + (len(model.microgrids),)),
                        "line": np.zeros(batch + (layout.n_line,)), "trafo": np.zeros(batch + (layout.n_trafo,))}
        self.t, self.start_hour, self.episode = (np.zeros(batch, np.int64) if batch else 0 for _ in range(3))
        self.split = "train" if model.config["train"] else "test"
        self._start_energy = np.zeros(batch + (len(model.microgrids),))  # what each agent's devices held at the start
        self._energy_value = np.zeros(batch + (1,))  # $/MWh of energy left at the end (config stored_energy_value)
        self.hour, self.price = 0, 0.0
        self.sell_price_ratio = float(model.config["sell_price_ratio"])
        self.load_base_p = backend.initial["load_p"].copy()
        self.load_base_q = backend.initial["load_q"].copy()
        self._at = self._index_keys(batched=bool(batch))
        self._plan_fleets(lead=(slice(None),) if batch else ())
        self.days()  # an episode must fit in the data: refused here, not at the first reset
        # the arrays of state a step writes, each changed in place, never rebound (a copy or a
        # pickle keeps them shared); the backend's injections follow from them and the clock
        self._state = [getattr(f, key) for f in self.fleets.values() for key in f.STATE] + [self.discrete, *self.results.values(),
                                                                                            self._start_energy, self._energy_value]
        self.regulation = model.regulation
        if self.regulation is not None:  # the operator's regulators move their taps: state too
            self._state.append(self.backend.trafo_tap)
        #: whether the backend's own solve steps the regulators (a kernel does, in one call)
        self._backend_regulates = self.regulation is not None and backend.take_regulation(self.regulation)

    # The built-in fleets by name.
    generators = property(lambda self: self.fleets["generator"])
    storage = property(lambda self: self.fleets["storage"])
    renewables = property(lambda self: self.fleets["renewable"])

    def _plan_fleets(self, lead: tuple) -> None:
        """What the step does with each fleet, decided once: which are commanded (and where
        their delivered values go in the flat action), which follow a profile, which inject what
        into which backend array, and which have a cost or a soft limit. Fleet state arrays are
        held directly: they are changed in place, never rebound (see ``_state``)."""
        lay, model = self.layout, self.model
        fleets = {kind: f for kind, f in self.fleets.items() if f.size}
        self._acting = [(fleets[kind], lead + (lay.action_pos[kind],)) for kind in lay.acting]
        self._delivered = [(getattr(fleets[kind], attribute), lead + (lay.action_pos[kind][:, j],))
                           for kind in lay.acting for j, attribute in enumerate(fleets[kind].ACTION)]

        def injections(kind: str, fleet: Any) -> list[tuple[np.ndarray, str, tuple]]:
            return [(getattr(fleet, attribute), array, lead + (fleet.element,)) for _, attribute, array in fleet.REPORTS]

        self._profiled = [(f, lead + (model.fleet_series[kind],), injections(kind, f)) for kind, f in fleets.items()
                          if kind in model.fleet_series]
        self._pushed = [i for kind, f in fleets.items() if f.ACTION for i in injections(kind, f)]
        self._costed = [(f, lay.owners[kind]) for kind, f in fleets.items() if type(f).cost is not Fleet.cost]
        self._limited = [(f, lay.owners[kind]) for kind, f in fleets.items() if type(f).violation is not Fleet.violation]
        self._holding = [(f, lay.owners[kind]) for kind, f in fleets.items() if type(f).energy is not Fleet.energy]
        self._observed = [getattr(f, attribute) for f in self.fleets.values() for _, attribute, _ in f.OBSERVED]

    def batched(self, num_envs: int) -> "GridCore":
        """A core of ``num_envs`` copies of this model, solved together by the kernel of this
        core's backend (the sweep, or Newton for any other); the copies the kernel gives up on go
        to this core's backend, or for a kernel backend to its own fallback (lightsim2grid)."""
        from powergrid.powerflow.batched import BatchedNewtonBackend, OneCopyBackend  # Numba: the batched env's

        if isinstance(self.backend, OneCopyBackend):
            batched, fallback = self.backend.batch_class, self.backend.fallback
        else:
            batched, fallback = BatchedNewtonBackend, self.backend
        backend = batched(self.model.net, int(num_envs), fallback=fallback, angles=False)  # no step reads angles
        return GridCore(self.model, self.layout, backend, int(num_envs))

    def _index_keys(self, batched: bool) -> dict[str, Any]:
        """The step's gathers and scatters: ``x[idx]`` for one env, ``x[:, idx]`` for a batch
        (``x[..., idx]`` would serve both, at about a microsecond a use)."""
        lead = (slice(None),) if batched else ()
        lay, m = self.layout, self.model
        parts = {"discrete_pos": lay.discrete_positions, "load_series": m.load_series, "price": m.price_series,
                 "mg_trafo": lay.mg_trafo, "mg_bus": lay.mg_bus, "mg_line": lay.mg_line, "taps": lay.disc_is_tap,
                 "shunts": ~lay.disc_is_tap, "tap_element": lay.disc_element[lay.disc_is_tap],
                 "shunt_element": lay.disc_element[~lay.disc_is_tap], "column": None}
        return {name: lead + (idx,) for name, idx in parts.items()}

    # -------------------------------------------------------------- episodes
    def days(self) -> int:
        """How many days an episode can start on in the current split."""
        hours = self.model.profiles[self.split].shape[0]
        steps = self.model.config["max_episode_steps"]
        days = (hours - steps - 1) // 24 + 1
        if days < 1:
            raise ValueError(f"config 'max_episode_steps' is {steps}: the dataset's {self.split} split has {hours} hours, "
                             f"too few for one episode")
        return days

    def pick_day(self, rng: np.random.Generator, episode: int, options: Mapping[str, Any], copy: int = 0) -> int:
        """The day an episode starts: ``options['day']`` (for a batch, one day or one per copy),
        a random train day, or the next test day (a batch's copies on consecutive days)."""
        days = self.days()
        if "day" in options:
            day = options["day"]
            if self.num_envs is not None and isinstance(day, (list, tuple, np.ndarray)):
                if len(day) != self.num_envs:
                    raise ValueError(f"options['day'] must be one day or {self.num_envs} days (one per copy), got {day!r}")
                day = day[copy]
            if isinstance(day, (bool, np.bool_)) or not isinstance(day, (int, np.integer)):
                raise ValueError(f"options['day'] must be a whole number, got {day!r}")
            if not 0 <= day < days:
                raise ValueError(f"options['day'] must be in [0, {days}), got {options['day']!r}")
            return int(day)
        if self.split == "train":
            return int(rng.integers(0, days))
        return (episode * (self.num_envs or 1) + copy) % days

    def start_episode(self, rng: np.random.Generator, options: Mapping[str, Any], rows: Any = None,
                      rngs: list[np.random.Generator] | None = None) -> None:
        """Devices back to their initial state, the clock to the start of the picked day; for a
        batch, the copies in ``rows`` (a mask), each drawing from ``rngs[b]``."""
        if self.num_envs is None:
            self.start_hour = 24 * self.pick_day(rng, self.episode, options)
            self.episode += 1
            self.t = 0
            rows = slice(None)
        else:
            for b in np.flatnonzero(rows):
                self.start_hour[b] = 24 * self.pick_day(rngs[b], int(self.episode[b]), options, copy=int(b))
                self.episode[b] += 1
            self.t[rows] = 0
        for fleet in self.fleets.values():
            fleet.reset(rows)
        self.discrete[rows] = self.layout.disc_initial
        self.backend.reset() if self.num_envs is None else self.backend.reset(rows)
        self._start_energy[rows] = self.stored_energy()[rows]
        self._energy_value[rows] = self._value_of_stored_energy()[rows]

    @property
    def energy_value(self) -> float:
        """$/MWh of the energy left in storage at the end of this copy's episode (one copy)."""
        return float(self._energy_value[0])

    def _value_of_stored_energy(self) -> np.ndarray:
        """$/MWh of energy left in storage at the end of each copy's current episode (``(1,)`` or
        ``(B, 1)``): config ``stored_energy_value``, or the mean price over its steps."""
        value = self.model.config["stored_energy_value"]
        shape = self._energy_value.shape
        if not isinstance(value, str):
            return np.full(shape, float(value))
        prices = self.model.profiles[self.split][:, self.model.price_series]
        steps = int(self.model.config["max_episode_steps"])
        cumulative = np.concatenate([[0.0], np.cumsum(prices)])
        start = np.asarray(self.start_hour).reshape(shape[:-1])
        return ((cumulative[start + steps + 1] - cumulative[start + 1]) / steps).reshape(shape)

    def stored_energy(self) -> np.ndarray:
        """The energy (MWh) each agent's devices hold now."""
        held = np.zeros(self._start_energy.shape)
        for fleet, owned in self._holding:
            held += owned.sum(fleet.energy(slice(None)))
        return held

    def stored_energy_credit(self) -> np.ndarray:
        """Per agent ($): the energy its devices hold beyond what they held when the episode
        started, at the episode's value of stored energy: what an episode's last step takes off
        its cost, so that neither draining storage at the end nor filling it is free."""
        return (self.stored_energy() - self._start_energy) * self._energy_value

    # ------------------------------------------------------------ undoing
    def checkpoint(self) -> tuple[Any, ...]:
        """What a step changes, for ``restore``: a step that raises is undone. One copy of the
        state arrays side by side (a few microseconds a step), the clock and the solver's warm start."""
        clock = (self.t, self.start_hour, self.episode)
        if self.num_envs is not None:
            clock = tuple(np.copy(x) for x in clock)
        return clock, self.hour, self.price, np.concatenate(self._state, axis=-1), self.backend.warm_start

    def restore(self, saved: tuple[Any, ...]) -> None:
        clock, self.hour, self.price, values, self.backend.warm_start = saved
        if self.num_envs is None:
            self.t, self.start_hour, self.episode = clock
        else:  # in place: a batch's arrays may be held by its env
            for mine, value in zip((self.t, self.start_hour, self.episode), clock):
                mine[...] = value
        at = 0
        for array in self._state:
            size = array.shape[-1]
            array[...] = values[..., at:at + size]
            at += size
        self.advance_profiles()
        self.push_devices()

    # ------------------------------------------------------------------ step
    def apply_actions(self, flat: np.ndarray) -> None:
        """Agent actions to device setpoints: each commanded fleet gathers its rows' entries
        (the setpoint protocol's layout) and keeps what its devices deliver."""
        dt = self.dt_h
        for fleet, where in self._acting:
            fleet.act(flat[where], dt)
        if self.layout.discrete:
            self.discrete[...] = self.layout.disc_offset + flat[self._at["discrete_pos"]]

    def delivered_actions(self, commanded: np.ndarray) -> np.ndarray:
        """``commanded`` (flat, clipped) with what the devices delivered at their setpoints."""
        delivered = commanded.copy()
        for values, where in self._delivered:
            delivered[where] = values
        return delivered

    def advance_profiles(self) -> None:
        """Loads, the output of devices that follow a profile (renewables) and the price of the
        current hour (nature's part, every mode)."""
        self.hour = self.start_hour + self.t
        column = self.model.profiles[self.split][self.hour]
        b, at = self.backend, self._at
        load = column[at["load_series"]]
        np.multiply(self.load_base_p, load, out=b.load_p)
        np.multiply(self.load_base_q, load, out=b.load_q)
        for fleet, series, injections in self._profiled:
            fleet.follow(column[series])
            for values, array, where in injections:
                getattr(b, array)[where] = values
        self.price = column[at["price"]]

    def availability(self) -> dict[str, np.ndarray]:
        """This hour's availability of each device of the fleets that follow a profile (one copy):
        what a site in another process needs to know of the weather (``fleet.follow``)."""
        column = self.model.profiles[self.split][self.hour]
        return {kind: column[series] for kind, series in self.model.fleet_series.items()}

    def push_devices(self) -> None:
        """The fleets' injections and the discrete settings into the power-flow backend."""
        b = self.backend
        for values, array, where in self._pushed:
            getattr(b, array)[where] = values
        if self.layout.discrete:
            self.push_discrete(self.discrete)

    def push_discrete(self, values: np.ndarray) -> None:
        """Tap positions and capacitor steps (the layout's discrete order) into the backend."""
        b, at = self.backend, self._at
        b.trafo_tap[at["tap_element"]] = values[at["taps"]]
        b.shunt_q[at["shunt_element"]] = -self.layout.disc_q_step * values[at["shunts"]]

    def solve(self, rows: np.ndarray | None = None) -> Any:
        """Solve (a batch: the copies in ``rows``); the converged results are kept in ``results``
        (a copy that does not converge keeps its last converged ones)."""
        result = self.regulated_solve(rows)
        ok = result.converged if rows is None else result.converged & rows
        keep, mg_trafo = self.results, self._at["mg_trafo"]
        if ok is True or (ok is not False and ok.all()):
            keep["vm"][:] = result.vm_pu
            keep["p_import"][:] = result.trafo_p_hv_mw[mg_trafo]
            keep["line"][:] = result.line_loading_percent
            keep["trafo"][:] = result.trafo_loading_percent
        elif ok is not False and ok.any():
            where = ok[..., None]
            np.copyto(keep["vm"], result.vm_pu, where=where)
            np.copyto(keep["p_import"], result.trafo_p_hv_mw[mg_trafo], where=where)
            np.copyto(keep["line"], result.line_loading_percent, where=where)
            np.copyto(keep["trafo"], result.trafo_loading_percent, where=where)
        return result.converged

    def regulated_solve(self, rows: np.ndarray | None = None) -> Any:
        """The backend's solve and the regulators' rounds after it (inside it, where the
        backend runs them); returns the backend's result."""
        b = self.backend
        result = b.solve() if rows is None else b.solve(rows)
        if self.regulation is not None and not self._backend_regulates:
            every = np.ones(self.num_envs, bool) if self.num_envs is not None and rows is None else rows
            result = regulate(self.regulation, b, result, every)
        return result

    def hold(self, dt_h: float) -> None:
        """Every device goes on delivering its last command for ``dt_h`` hours (event-driven)."""
        for fleet in self.fleets.values():
            if fleet.size:
                fleet.hold(dt_h)

    def grid_cost(self, p_import: Any, price: Any) -> Any:
        """Energy bought at the price, sold at ``sell_price_ratio`` × price (arrays or one number)."""
        cost = exchange_costs if type(p_import) is np.ndarray else exchange_cost
        return cost(p_import, price, self.sell_price_ratio, self.dt_h)

    def score(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-agent cost and safety of the step (see the env's module doc for the terms)."""
        keep, dt, own, at = self.results, self.dt_h, self.layout.owners, self._at
        cost = None
        for fleet, owned in self._costed:
            term = owned.sum(fleet.cost(slice(None), dt))
            cost = term if cost is None else cost + term
        grid = self.grid_cost(keep["p_import"], self.price[at["column"]])
        cost = grid if cost is None else cost + grid
        safety = own["bus"].sum(voltage_violation(keep["vm"][at["mg_bus"]]))
        safety += own["line"].sum(overload(keep["line"][at["mg_line"]]))
        safety += overload(keep["trafo"][at["mg_trafo"]])
        for fleet, owned in self._limited:
            safety += owned.sum(fleet.violation(slice(None)))
        return cost, safety

    def hour_angle(self) -> Any:
        """The hour of day as an angle: observations carry its sine and cosine."""
        return (2.0 * math.pi / 24.0) * (self.hour % 24)

    def observation_source(self) -> np.ndarray:
        """Every number an observation is gathered from (``layout.OBSERVATION_SOURCE``)."""
        angle = self.hour_angle()
        sin, cos = np.sin(angle), np.cos(angle)
        keep, column = self.results, self._at["column"]
        load_p = self.layout.owners["load"].sum(self.backend.load_p)
        return np.concatenate([*self._observed, load_p, keep["p_import"], self.price[column], sin[column], cos[column],
                               keep["vm"], self.discrete], axis=-1)

    def observations(self) -> list[np.ndarray]:
        """Each agent's observation (one copy), float32, in agent order."""
        source = self.observation_source()
        return [(source[idx] * scale).astype(np.float32) for idx, scale in zip(self.layout.obs_index, self.layout.obs_scale)]

    # ---------------------------------------------------------------- market
    def marginal_costs(self) -> np.ndarray:
        """Each agent's generator marginal cost (mean over its generators; the price if none)."""
        owners = self.layout.owners["generator"]
        count = owners.sum(np.ones(self.generators.size))
        total = owners.sum(self.generators.marginal_cost(slice(None)))
        return np.where(count > 0, total / np.maximum(count, 1), self.price)
