"""Device parameters and state as arrays: one table ("fleet") per device kind.

The physics is written once, as formulas on one device's numbers
(:mod:`powergrid.agents.formulas`): a device acting alone (distributed mode) calls them on its
own row read as Python floats; a fleet applies their twins compiled by Numba into numpy ufuncs
to the rows it is given (centralized: the whole fleet at once), with the same IEEE operations.
Formulas that are plain arithmetic (the costs) serve arrays as they are. A fleet made by ``batched(B)``
holds its state with a leading axis of B copies (parameters are shared), and the same
formulas step all copies by broadcasting. Power signs:
generators inject (+), storage consumes when charging (+, the pandapower convention).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from heron.core.checks import finite_number
from powergrid.agents.formulas import (INSTANT_H, generator_cost, generator_marginal_cost, generator_output, generator_p,
                                       generator_q, on_arrays, storage_cost, storage_power, storage_soc, storage_violation)

__all__ = ["Fleet", "GeneratorFleet", "StorageFleet", "RenewableFleet", "require", "generator_cost", "generator_marginal_cost",
           "generator_p", "generator_q", "generator_output", "storage_power", "storage_soc", "storage_cost",
           "storage_violation", "on_arrays", "parameter", "INSTANT_H"]

# the formulas' twins on arrays (built at their first call)
_generator_p = on_arrays(generator_p, 4)
_generator_q = on_arrays(generator_q, 7)
_storage_power = on_arrays(storage_power, 8)
_storage_soc = on_arrays(storage_soc, 8)
_storage_violation = on_arrays(storage_violation, 3)


def require(condition: bool, device: str, message: str) -> None:
    """Parameter validation that names the device."""
    if not condition:
        raise ValueError(f"device {device!r}: {message}")


def parameter(cfg: Mapping[str, Any], key: str, default: float | None = None) -> float:
    """A device config's number ``key`` (or ``default``), checked and named when wrong."""
    value = cfg.get(key, default)
    if value is None:
        raise ValueError(f"device {cfg.get('name', '?')!r}: missing parameter {key!r}")
    return finite_number(value, f"device {cfg.get('name', '?')!r}: {key}")


def _cost_curve(cfg: Mapping[str, Any]) -> tuple[float, float, float]:
    """A generator's ``cost``: the coefficients (a, b, c) of a·P² + b·P + c."""
    curve = cfg.get("cost", (0.0, 0.0, 0.0))
    what = f"device {cfg.get('name', '?')!r}: cost"
    if not isinstance(curve, (list, tuple, np.ndarray)) or len(curve) != 3:
        raise ValueError(f"{what} must be three numbers [a, b, c] of a*P^2 + b*P + c ($/h), got {curve!r}")
    a, b, c = (finite_number(x, what) for x in curve)
    return a, b, c


class Fleet:
    """Every device of one type as arrays, one row per device: parameters (``FIELDS``) and the
    state that changes while running (``STATE``). The grid core drives every type through this
    surface alone; a device type of your own subclasses it and declares:

    - ``ACTION``: the attributes a controller's continuous action sets, in action order, with
      ``BOUNDS`` (the attributes holding each entry's low and high);
    - ``OBSERVED``: ``(name, attribute, is_power)`` of what its controller observes;
    - ``REPORTS``: ``(state-update key, attribute, backend injection array)`` of what enters the
      power flow (in distributed mode, read from the device's state update);
    - ``ELEMENT``: the pandapower table its devices are created in (``create_element``);
    - ``PROFILE``: whether its output follows an availability profile (``follow``).

    and overrides ``_load`` (one config row), ``act`` and, where it has them, ``cost``,
    ``violation``, ``energy``, ``hold`` and ``reset``.
    """

    FIELDS: tuple[str, ...] = ()
    STATE: tuple[str, ...] = ()
    ACTION: tuple[str, ...] = ()
    BOUNDS: tuple[tuple[str, str], ...] = ()
    OBSERVED: tuple[tuple[str, str, bool], ...] = ()
    REPORTS: tuple[tuple[str, str, str], ...] = ()
    ELEMENT = "sgen"
    PROFILE = False

    def __init__(self, configs: Sequence[Mapping[str, Any]]) -> None:
        self.names = [str(c["name"]) for c in configs]
        self.size = len(configs)
        for key in self.FIELDS:
            setattr(self, key, np.zeros(self.size))
        for i, cfg in enumerate(configs):
            self._load(i, cfg)
        self.element = np.full(self.size, -1, dtype=np.int64)  # row in the pandapower table
        self.bus = np.full(self.size, -1, dtype=np.int64)

    def _load(self, i: int, cfg: Mapping[str, Any]) -> None:
        raise NotImplementedError

    @classmethod
    def create_element(cls, net: Any, bus: int, name: str, row: "Fleet") -> int:
        """Add the device (``row``: a one-device fleet of it, checked) to the pandapower net."""
        import pandapower as pp

        return int(pp.create_sgen(net, bus, p_mw=0.0, q_mvar=0.0, name=name))

    # ---------------------------------------------------------------- the step
    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Low and high of each device's action, ``(size, len(ACTION))``."""
        low = np.stack([getattr(self, lo) for lo, _ in self.BOUNDS], axis=-1) if self.BOUNDS else np.zeros((self.size, 0))
        high = np.stack([getattr(self, hi) for _, hi in self.BOUNDS], axis=-1) if self.BOUNDS else np.zeros((self.size, 0))
        return low, high

    def act(self, setpoints: np.ndarray, dt_h: float) -> None:
        """Command ``setpoints`` (``(..., size, len(ACTION))``) for ``dt_h`` hours; the devices
        deliver what they can, and the ``ACTION`` attributes hold what they delivered."""
        raise NotImplementedError(f"{type(self).__name__} declares an ACTION but does not implement act")

    def follow(self, availability: np.ndarray) -> None:
        """Output at this hour's availability (``PROFILE`` fleets)."""

    def hold(self, dt_h: float) -> None:
        """Go on delivering the last command for ``dt_h`` hours (event-driven mode); only
        devices with an energy state change."""

    def cost(self, rows: Any, dt_h: float) -> np.ndarray | None:
        """Each device's cost ($) over ``dt_h`` hours, or None if the type has none."""
        return None

    def violation(self, rows: Any) -> np.ndarray | None:
        """Each device's soft-limit violation, or None if the type has none."""
        return None

    def energy(self, rows: Any) -> np.ndarray | None:
        """The energy each device holds (MWh), or None if the type holds none: what is left of
        it at the end of an episode is worth config ``stored_energy_value``."""
        return None

    def reset(self, rows: Any = slice(None)) -> None:
        """Back to the initial state."""

    # ------------------------------------------------------------------ copies
    def copy(self) -> "Fleet":
        """A fleet sharing these parameters with its own copy of the state."""
        return self._with_state(np.copy)

    def batched(self, num_envs: int) -> "Fleet":
        """A fleet sharing these parameters whose state has a leading axis of ``num_envs`` copies."""
        return self._with_state(lambda values: np.tile(values, (num_envs, 1)))

    def _with_state(self, make: Any) -> "Fleet":
        fleet = object.__new__(type(self))
        fleet.__dict__.update(self.__dict__)
        for key in self.STATE:
            setattr(fleet, key, make(getattr(self, key)))
        return fleet


class GeneratorFleet(Fleet):
    """Generators: P in [p_min, p_max], Q in [q_min, q_max] (MW, Mvar), apparent power limit
    s_max (MVA), minimum power factor pf_min, cost a·P² + b·P + c per hour. A generator with a
    ``source`` (solar or wind: an inverter-based plant) can deliver at most p_max × the area's
    availability of the hour (``p_cap``); curtailing it is its action, as is its reactive power.
    Dispatchable units have a cap of p_max."""

    FIELDS = ("p_min", "p_max", "q_min", "q_max", "s_max", "pf_min", "cost_a", "cost_b", "cost_c", "q_slope", "q_idle",
              "p", "q", "p_set", "q_set", "p_cap")
    STATE = ("p", "q", "p_set", "q_set", "p_cap")  # p, q delivered; p_set, q_set commanded; p_cap available now
    ACTION = ("p", "q")
    BOUNDS = (("p_min", "p_max"), ("q_min", "q_max"))
    OBSERVED = (("P_MW", "p", True), ("Q_MVAR", "q", True))
    REPORTS = (("P_MW", "p", "sgen_p"), ("Q_MVAR", "q", "sgen_q"))
    PROFILE = True  # rows with a source follow their area's profile (the model gives the others a constant 1)

    @classmethod
    def create_element(cls, net: Any, bus: int, name: str, row: "Fleet") -> int:
        import pandapower as pp

        return int(pp.create_sgen(net, bus, p_mw=float(row.p[0]), q_mvar=0.0, name=name))

    def _load(self, i: int, cfg: Mapping[str, Any]) -> None:
        name = cfg["name"]
        p_max = parameter(cfg, "p_max")
        p_min = parameter(cfg, "p_min", 0.0)
        q_max = parameter(cfg, "q_max", 0.5 * p_max)
        q_min = parameter(cfg, "q_min", -q_max)
        s_max = parameter(cfg, "s_max", float(np.hypot(p_max, max(abs(q_min), abs(q_max)))))
        pf_min = parameter(cfg, "pf_min", 0.0)
        a, b, c = _cost_curve(cfg)
        require(0.0 <= p_min <= p_max, name, f"needs 0 <= p_min <= p_max, got p_min={p_min}, p_max={p_max}")
        require(q_min <= q_max, name, f"needs q_min <= q_max, got q_min={q_min}, q_max={q_max}")
        require(s_max > 0.0, name, f"s_max must be positive, got {s_max}")
        require(0.0 <= pf_min <= 1.0, name, f"pf_min must be in [0, 1], got {pf_min}")
        require(p_min <= s_max, name, f"needs p_min <= s_max (it could never run), got p_min={p_min}, s_max={s_max}")
        require(q_min <= 0.0 <= q_max, name, f"needs q_min <= 0 <= q_max (an idle generator makes no reactive power), "
                f"got q_min={q_min}, q_max={q_max}")
        require(a >= 0.0, name, f"cost a (quadratic) must be >= 0 for a convex cost, got {a}")
        source = cfg.get("source")
        require(source is None or isinstance(source, str) and source in ("solar", "wind"), name,
                f"source must be 'solar', 'wind' or absent (dispatchable), got {source!r}")
        require(source is None or p_min == 0.0, name, f"a {source} generator needs p_min = 0 (without sun or wind it "
                f"delivers nothing), got p_min={p_min}")
        q_slope = math.tan(math.acos(pf_min)) if pf_min > 0.0 else 0.0
        q_idle = 0.0 if pf_min > 0.0 else s_max
        values = (p_min, p_max, q_min, q_max, s_max, pf_min, a, b, c, q_slope, q_idle, p_min, 0.0, p_min, 0.0, p_max)
        for key, value in zip(self.FIELDS, values):
            getattr(self, key)[i] = value

    def dispatch(self, rows: Any, p: Any, q: Any) -> None:
        """Command (p, q) to the generators in ``rows``; they deliver what they can (``generator_output``)."""
        self.p_set[rows], self.q_set[rows] = p, q
        s_max = self.s_max[rows]
        p = self.p[rows] = _generator_p(p, self.p_min[rows], self.p_cap[rows], s_max)
        self.q[rows] = _generator_q(q, p, self.q_min[rows], self.q_max[rows], s_max, self.q_slope[rows], self.q_idle[rows])

    def act(self, setpoints: np.ndarray, dt_h: float) -> None:
        self.dispatch(slice(None), setpoints[..., 0], setpoints[..., 1])

    def follow(self, availability: np.ndarray) -> None:
        """The hour's cap, p_max × availability: what the next command or ``hold`` delivers within."""
        np.multiply(self.p_max, availability, out=self.p_cap)

    def hold(self, dt_h: float) -> None:
        """The last command, delivered within the current cap (the sun may have set)."""
        self.dispatch(slice(None), self.p_set.copy(), self.q_set.copy())

    def reset(self, rows: Any = slice(None)) -> None:
        """Idle at p_min, no reactive power (always deliverable)."""
        self.p[rows] = self.p_set[rows] = self.p_min
        self.q[rows] = self.q_set[rows] = 0.0
        self.p_cap[rows] = self.p_max

    def cost(self, rows: Any, dt_h: float) -> np.ndarray:
        return generator_cost(self.p[rows], self.cost_a[rows], self.cost_b[rows], self.cost_c[rows], dt_h)

    def marginal_cost(self, rows: Any) -> np.ndarray:
        return generator_marginal_cost(self.p[rows], self.cost_a[rows], self.cost_b[rows])


class StorageFleet(Fleet):
    """Energy storage: P in [p_min, p_max] MW (positive charges), capacity in MWh, state of
    charge within its window [soc_min, soc_max] (a hard limit: ``storage_power``),
    charge/discharge efficiencies, a throughput cost per MWh."""

    FIELDS = ("capacity", "p_min", "p_max", "soc_init", "soc_min", "soc_max", "eff_ch", "eff_dis", "cost_per_mwh", "p", "p_set",
              "soc")
    STATE = ("p", "p_set", "soc")  # p is delivered, p_set commanded
    ACTION = ("p",)
    BOUNDS = (("p_min", "p_max"),)
    OBSERVED = (("P_MW", "p", True), ("soc", "soc", False))
    REPORTS = (("P_MW", "p", "storage_p"),)
    ELEMENT = "storage"

    @classmethod
    def create_element(cls, net: Any, bus: int, name: str, row: "Fleet") -> int:
        import pandapower as pp

        return int(pp.create_storage(net, bus, p_mw=0.0, max_e_mwh=float(row.capacity[0]), name=name))

    def _load(self, i: int, cfg: Mapping[str, Any]) -> None:
        name = cfg["name"]
        capacity = parameter(cfg, "capacity")
        p_max = parameter(cfg, "p_max")
        p_min = parameter(cfg, "p_min", -p_max)
        soc_min, soc_max = parameter(cfg, "soc_min", 0.0), parameter(cfg, "soc_max", 1.0)
        soc_init = parameter(cfg, "soc_init", 0.5 * (soc_min + soc_max))
        eff_ch, eff_dis = parameter(cfg, "eff_ch", 0.95), parameter(cfg, "eff_dis", 0.95)
        cost = parameter(cfg, "cost_per_mwh", 0.0)
        require(capacity > 0.0, name, f"capacity must be positive (MWh), got {capacity}")
        require(p_min <= 0.0 <= p_max, name, f"needs p_min <= 0 <= p_max, got p_min={p_min}, p_max={p_max}")
        require(0.0 <= soc_min <= soc_max <= 1.0, name, f"needs 0 <= soc_min <= soc_max <= 1, got {soc_min}, {soc_max}")
        require(soc_min <= soc_init <= soc_max, name, f"soc_init must be within [soc_min, soc_max], got {soc_init}")
        require(0.0 < eff_ch <= 1.0 and 0.0 < eff_dis <= 1.0, name, f"efficiencies must be in (0, 1], got {eff_ch}, {eff_dis}")
        require(cost >= 0.0, name, f"cost_per_mwh must be >= 0, got {cost}")
        values = (capacity, p_min, p_max, soc_init, soc_min, soc_max, eff_ch, eff_dis, cost, 0.0, 0.0, soc_init)
        for key, value in zip(self.FIELDS, values):
            getattr(self, key)[i] = value

    def dispatch(self, rows: Any, p: Any, dt_h: float) -> None:
        """Command charging (p > 0) or discharging (p < 0) at ``p`` MW for ``dt_h`` hours; the units
        deliver what the energy they hold (or the room they have) allows, and ``p`` holds that."""
        soc, capacity, eff_ch, eff_dis = self.soc[rows], self.capacity[rows], self.eff_ch[rows], self.eff_dis[rows]
        soc_min, soc_max = self.soc_min[rows], self.soc_max[rows]
        delivered = _storage_power(p, soc, capacity, eff_ch, eff_dis, dt_h, soc_min, soc_max)
        self.p_set[rows] = p
        self.p[rows] = delivered
        self.soc[rows] = _storage_soc(soc, delivered, capacity, eff_ch, eff_dis, dt_h, soc_min, soc_max)

    def act(self, setpoints: np.ndarray, dt_h: float) -> None:
        self.dispatch(slice(None), setpoints[..., 0], dt_h)

    def hold(self, dt_h: float) -> None:
        self.dispatch(slice(None), self.p_set.copy(), dt_h)

    def cost(self, rows: Any, dt_h: float) -> np.ndarray:
        return storage_cost(self.p[rows], self.cost_per_mwh[rows], dt_h)

    def violation(self, rows: Any) -> np.ndarray:
        return _storage_violation(self.soc[rows], self.soc_min[rows], self.soc_max[rows])

    def energy(self, rows: Any) -> np.ndarray:
        return self.soc[rows] * self.capacity[rows]

    def reset(self, rows: Any = slice(None)) -> None:
        self.soc[rows] = self.soc_init
        self.p[rows] = 0.0
        self.p_set[rows] = 0.0


class RenewableFleet(Fleet):
    """Solar and wind plants: output = rating × the area's availability profile (MW)."""

    FIELDS = ("p_max", "p")
    STATE = ("p",)
    OBSERVED = (("P_MW", "p", True),)
    REPORTS = (("P_MW", "p", "sgen_p"),)
    PROFILE = True

    def _load(self, i: int, cfg: Mapping[str, Any]) -> None:
        p_max = parameter(cfg, "p_max")
        require(p_max >= 0.0, cfg["name"], f"p_max must be >= 0, got {p_max}")
        self.p_max[i] = p_max

    def follow(self, availability: np.ndarray) -> None:
        np.multiply(self.p_max, availability, out=self.p)
