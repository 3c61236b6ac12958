"""Event-driven mode for the grid env: each agent ticks at its own rate, with its delays.

HERON's default flow runs the agents (:mod:`heron.envs.heron_env`); what the grid adds is the
physics in continuous time: a device's action effect goes into its fleet (storage within what
it can deliver from then on), the network is re-solved at each effect or every
``env_update_interval`` seconds, profiles advance one sample per simulated hour, storage
integrates its commanded power over the elapsed time within the energy it holds, and
``event_totals`` accumulates each agent's cost and safety over time (per hour). An event whose
handling raises leaves the grid as it was before it (devices, network, totals, history); the
scheduler then raises ``EventHandlerError`` naming the event.
``event_history`` has one entry per power flow: its time, whether it converged, and each
agent's cost and safety rates ($/h and violation) from then on. Without
``env_update_interval`` the network is solved at every action effect and at each hour
boundary (when the loads and the price change); controllers without a policy hold.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from heron.scheduling.events import Event, EventType
from powergrid.agents.devices import Transformer
from powergrid.agents.grid_agent import GridAgent

__all__ = ["EventDrivenGrid"]


class EventDrivenGrid:
    """The event-driven driver, mixed into :class:`~powergrid.envs.NetworkedGridEnv` (it reads
    the env's ``core``, ``config``, ``agent_dict`` and HERON scheduler)."""

    def setup_event_driven(self, scheduler=None, seed: int | None = None):
        if not self._started:
            self.reset(seed=seed)
        interval = self.config["env_update_interval"]
        sched = super().setup_event_driven(scheduler, seed)
        for agent in self.agent_dict.values():
            for device in agent.devices.values():
                device.dt_h = 0.0  # storage energy is integrated over elapsed time by the env
                device.publishes_state = False  # action effects reach the env through the scheduler
        self._event_clock = sched.current_time
        n = len(self.possible_agents)
        self.event_totals = {"cost": np.zeros(n), "safety": np.zeros(n), "power_flows": 0, "not_converged": 0}
        self.event_history: list[dict[str, Any]] = []
        # periodic power flows; without an interval, one at each hour boundary (the loads change)
        # besides one at every action effect
        self._update_every = 3600.0 if interval is None else float(interval)
        sched.set_handler(EventType.ENV_UPDATE, self._handle_env_update)
        sched.schedule(Event(self._next_update(sched.current_time), EventType.ENV_UPDATE))
        return sched

    def _next_update(self, now: float) -> float:
        every = self._update_every
        if self.config["env_update_interval"] is None:  # the next hour boundary
            return (now // every + 1) * every
        return now + every

    def _handle_env_update(self, event: Event, scheduler) -> None:
        with self._all_or_nothing():
            self._event_update()
        scheduler.schedule(Event(self._next_update(scheduler.current_time), EventType.ENV_UPDATE))

    @contextmanager
    def _all_or_nothing(self) -> Iterator[None]:
        """The grid as it was, if what the block does to it raises (as a step that raises)."""
        saved, clock = self.core.checkpoint(), self._event_clock
        totals, history = {k: np.copy(v) for k, v in self.event_totals.items()}, len(self.event_history)
        try:
            yield
        except BaseException:
            self.core.restore(saved)
            self._write_discrete_devices()
            self._event_clock = clock
            self.event_totals.update({k: v if isinstance(v, np.ndarray) else v.item() for k, v in totals.items()})
            del self.event_history[history:]
            raise

    def apply_action(self, agent_id: str, action: Any) -> None:
        """Event-driven effect of an action: a device's goes into its fleet, then the network is
        re-solved (unless updates are periodic); a controller's is split over its devices."""
        agent = self.get_heron_agent(agent_id)
        if agent is None:
            raise ValueError(f"unknown agent {agent_id!r}; agents: {sorted(self.registered_agents)}")
        if self._scheduler is None or isinstance(agent, GridAgent):
            return super().apply_action(agent_id, action)
        with self._all_or_nothing():
            self._integrate_until(self.simulation_time)
            agent._set_device_action(action)
            if self.config["env_update_interval"] is None:
                self._event_update()

    def _read_discrete_devices(self) -> None:
        """The settings the tap changers and capacitor banks hold, into the core."""
        devices = self._discrete_devices
        if devices:
            self.core.discrete[:] = [d.tap_pos if isinstance(d, Transformer) else d.step for d in devices]

    def _integrate_until(self, now: float) -> None:
        """Advance storage energy and the accumulated cost and safety to ``now``."""
        elapsed_h = (now - self._event_clock) / 3600.0
        if elapsed_h <= 0:
            return
        self.core.hold(elapsed_h)
        cost, safety = self._cost_and_safety()
        self.event_totals["cost"] += cost * elapsed_h
        self.event_totals["safety"] += safety * elapsed_h
        self._event_clock = now

    def _event_update(self) -> None:
        core, now = self.core, self.simulation_time
        self._integrate_until(now)
        core.t = min(int(now // 3600), core.model.profiles[core.split].shape[0] - 1 - core.start_hour)
        self._read_discrete_devices()
        core.advance_profiles()
        core.hold(0.0)  # what the devices deliver from now on, within this hour's weather
        core.push_devices()
        converged = bool(core.solve())
        self.event_totals["power_flows"] += 1
        self.event_totals["not_converged"] += not converged
        cost, safety = self._cost_and_safety()
        self.event_history.append({"time": now, "converged": converged, "cost": dict(zip(self.possible_agents, cost.tolist())),
                                   "safety": dict(zip(self.possible_agents, safety.tolist()))})

    def get_state(self) -> dict[str, Any]:
        """Global state for event-driven observers: the time and every agent's observation."""
        return {"time": self.simulation_time, **self._observations()}
