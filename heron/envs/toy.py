"""A small reference environment: rooms with electric heaters under a building controller.

Each room (a field agent, and an RL agent) sets its heater power in [0, 1]; the building
(a coordinator) broadcasts a time-of-day electricity price. Temperatures follow a first-order
model solved exactly over any time span, so the same physics serves fixed steps
(``step``) and event-driven runs (actions land at arbitrary times).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from heron.agents.coordinator_agent import CoordinatorAgent
from heron.agents.field_agent import FieldAgent
from heron.core.action import Action
from heron.core.features import FeatureProvider
from heron.core.observation import Observation
from heron.core.policies import Policy
from heron.envs.heron_env import HeronEnv
from heron.protocols.vertical import PriceSignalProtocol

__all__ = ["Room", "ThermostatPolicy", "TimeOfDayPrice", "ThermalRoomsEnv"]


class Room(FieldAgent):
    """A heated room; its action is the heater's power as a fraction of its rating."""

    def __init__(self, agent_id: str, policy: Policy | None = None, **kwargs: Any) -> None:
        super().__init__(
            agent_id,
            policy=policy,
            action=Action(dim_c=1, range=(0.0, 1.0)),
            state=[FeatureProvider("thermal", visibility=["owner", "coordinator"], temperature=18.0, heater=0.0)],
            **kwargs,
        )

    def _execute_local_action(self, action: np.ndarray) -> None:
        self.state["thermal"].set_values(heater=min(max(float(action[0]), 0.0), 1.0))


class ThermostatPolicy(Policy):
    """Proportional control toward ``target`` °C (the rule-based stand-in for a trained policy)."""

    def __init__(self, target: float = 21.0, gain: float = 0.5) -> None:
        self.target, self.gain = target, gain

    def forward(self, obs: Observation) -> np.ndarray:
        temperature = obs.local["thermal"]["temperature"]
        return np.array([min(max(self.gain * (self.target - temperature), 0.0), 1.0)])


class TimeOfDayPrice(Policy):
    """Price in $/MWh peaking in the early evening."""

    def forward(self, obs: Observation) -> np.ndarray:
        hour = (obs.timestamp / 3600.0) % 24.0
        return np.array([50.0 + 30.0 * math.sin(2.0 * math.pi * (hour - 11.0) / 24.0)])


class ThermalRoomsEnv(HeronEnv):
    """``n_rooms`` rooms; observation per room: [temperature, outside temperature, price].

    Reward = -(temperature - target)² - price/100 · heater; an episode lasts ``max_steps``
    steps of ``step_seconds``. ``room_policy`` (shared by the rooms; default a thermostat) is
    what the rooms do when they act on their own, as in event-driven runs.
    """

    metadata = {"name": "thermal_rooms_v0", "render_modes": []}

    def __init__(self, n_rooms: int = 3, max_steps: int = 24, step_seconds: float = 300.0, target: float = 21.0,
                 env_id: str = "thermal", room_policy: Policy | None = None) -> None:
        super().__init__(env_id=env_id)
        if n_rooms < 1 or max_steps < 1 or step_seconds <= 0:
            raise ValueError(f"need n_rooms >= 1, max_steps >= 1, step_seconds > 0; got {n_rooms}, {max_steps}, {step_seconds}")
        self.n_rooms, self.max_steps, self.step_seconds, self.target = n_rooms, max_steps, step_seconds, target
        room_policy = room_policy if room_policy is not None else ThermostatPolicy(target)
        self.rooms = [Room(f"room_{i}", policy=room_policy) for i in range(n_rooms)]
        self.building = CoordinatorAgent("building", subordinates=self.rooms,
                                         protocol=PriceSignalProtocol(initial_price=50.0), policy=TimeOfDayPrice())
        self.register_heron_agent(self.building)
        self.possible_agents = [r.agent_id for r in self.rooms]
        self.agents = list(self.possible_agents)
        self.action_spaces = {a: r.action.space for a, r in zip(self.possible_agents, self.rooms)}
        box = spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float32)
        self.observation_spaces = {a: box for a in self.possible_agents}
        self._tau, self._heat_gain = 3600.0, 20.0  # time constant (s); °C gained at full power, at equilibrium
        self._time = 0.0
        self._steps = 0

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    # -------------------------------------------------------------- physics
    def outside_temperature(self, t: float) -> float:
        return 8.0 + 4.0 * math.sin(2.0 * math.pi * (t / 3600.0 - 9.0) / 24.0)

    def _advance_to(self, t: float) -> None:
        """Exact solution of dT/dt = (T_out + k·u - T) / tau over [self._time, t]."""
        dt = t - self._time
        if dt <= 0:
            return
        t_out = self.outside_temperature(0.5 * (self._time + t))
        decay = math.exp(-dt / self._tau)
        for room in self.rooms:
            thermal = room.state["thermal"]
            equilibrium = t_out + self._heat_gain * thermal["heater"]
            thermal.set_values(temperature=equilibrium + (thermal["temperature"] - equilibrium) * decay)
        self._time = t

    @property
    def price(self) -> float:
        return float(self.building.protocol.price)

    # ------------------------------------------------------------ PettingZoo
    def reset(self, seed: int | None = None, options: dict | None = None):
        self.building.reset(seed)
        rng = np.random.default_rng(seed)
        for room in self.rooms:
            room.state["thermal"].set_values(temperature=rng.uniform(15.0, 20.0))
        self._time, self._steps = 0.0, 0
        self.agents = list(self.possible_agents)
        self._announce_price()
        return self._observations(), {a: {} for a in self.agents}

    def _announce_price(self) -> None:
        self.building.timestamp = self._time
        self.building.act(self.building.observe())  # price signal straight to the rooms

    def step(self, actions: dict[str, Any]):
        missing = set(self.agents) - set(actions)
        if missing:
            raise ValueError(f"step needs an action for every live agent; missing {sorted(missing)}")
        for agent_id in self.agents:
            self.apply_action(agent_id, np.asarray(actions[agent_id], dtype=np.float64).reshape(-1))
        self._advance_to(self._time + self.step_seconds)
        self._steps += 1
        self._announce_price()
        rewards = {r.agent_id: self._reward(r) for r in self.rooms}
        truncated = self._steps >= self.max_steps
        terminations = {a: False for a in self.agents}
        truncations = {a: truncated for a in self.agents}
        obs, infos = self._observations(), {a: {"price": self.price} for a in self.agents}
        if truncated:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _reward(self, room: Room) -> float:
        thermal = room.state["thermal"]
        return -((thermal["temperature"] - self.target) ** 2) - self.price / 100.0 * thermal["heater"]

    def _observations(self) -> dict[str, np.ndarray]:
        t_out = self.outside_temperature(self._time)
        return {r.agent_id: np.array([r.state["thermal"]["temperature"], t_out, self.price], dtype=np.float32)
                for r in self.rooms}

    def state(self) -> np.ndarray:
        return np.array([r.state["thermal"]["temperature"] for r in self.rooms] + [self.outside_temperature(self._time), self.price],
                        dtype=np.float32)

    # --------------------------------------------------------- event driven
    def apply_action(self, agent_id: str, action: Any) -> None:
        if self._scheduler is not None:
            self._advance_to(self.simulation_time)
        super().apply_action(agent_id, action)

    def get_state(self) -> dict[str, Any]:
        if self._scheduler is not None:
            self._advance_to(self.simulation_time)
        return {"time": self._time, "outside": self.outside_temperature(self._time), "price": self.price}
