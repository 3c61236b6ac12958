"""A rule-based microgrid controller: the baseline the main job runs in every mode."""
from __future__ import annotations

from typing import Any

import numpy as np

from heron.core.observation import Observation
from heron.core.policies import Policy
from powergrid.agents.devices import ESS, Generator, Renewable
from powergrid.agents.grid_agent import GridAgent

__all__ = ["RuleBasedPolicy"]


class RuleBasedPolicy(Policy):
    """Cover the net load (load minus renewables) with the generator at unity power factor; charge
    storage when the price is below ``cheap``, discharge above ``expensive``, within 15-85 % SOC.

    Reads the agent's observation vector (the env's layout); in event-driven runs the vector is
    ``obs.global_info[agent_id]`` of the env's global state.
    """

    def __init__(self, agent: GridAgent, cheap: float = 40.0, expensive: float = 55.0) -> None:
        self.agent_id, self.cheap, self.expensive = agent.agent_id, cheap, expensive
        fields = agent.device_fields()
        n = len(fields)
        self._load, self._price = n, n + 2
        self._renewables = [i for i, (d, f) in enumerate(fields) if isinstance(agent.devices[d], Renewable)]
        self._slots = []  # per device: kind, its range, and where its soc sits in the observation
        for dev in agent.devices.values():
            if isinstance(dev, (Generator, ESS)):
                soc = fields.index((dev.agent_id, "soc")) if isinstance(dev, ESS) else -1
                energy = float(dev.fleet.capacity[dev.index]) if isinstance(dev, ESS) else 0.0  # MWh
                self._slots.append((dev.kind, dev.action.low.copy(), dev.action.high.copy(), soc, energy))
        self.base_power = agent.base_power

    def forward(self, obs: Observation | np.ndarray) -> np.ndarray:
        vec = obs.global_info[self.agent_id] if isinstance(obs, Observation) else np.asarray(obs)
        net_load = (float(vec[self._load]) - float(sum(vec[i] for i in self._renewables))) * self.base_power
        price = float(vec[self._price])
        action: list[float] = []
        for kind, low, high, soc_at, energy in self._slots:
            if kind == "generator":
                action += [float(np.clip(net_load, low[0], high[0])), 0.0]
            else:  # at most the energy that keeps the state of charge within 15-85 % over one hour
                soc = float(vec[soc_at])
                if price < self.cheap:
                    action.append(float(np.clip((0.85 - soc) * energy, 0.0, high[0])))
                elif price > self.expensive:
                    action.append(float(np.clip((0.15 - soc) * energy, low[0], 0.0)))
                else:
                    action.append(0.0)
        return np.array(action)

    def __call__(self, obs: Any) -> np.ndarray:
        return self.forward(obs)
