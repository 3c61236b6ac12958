"""A rule-based microgrid controller: the reference the main job runs in every mode, and one of
the baselines (``powergrid.baselines``)."""
from __future__ import annotations

import numpy as np

from heron.core.observation import Observation
from heron.core.policies import Policy
from powergrid.agents.devices import ESS, Generator, Shunt, Transformer
from powergrid.agents.fleets import generator_output
from powergrid.agents.grid_agent import NETWORK_FIELDS, GridAgent
from powergrid.core.safety import V_MAX, V_MIN

__all__ = ["RuleBasedPolicy"]


class RuleBasedPolicy(Policy):
    """What an operator would write without a forecast, from the agent's own observation:

    - generators run where the price covers their marginal cost (P = (price - b) / 2a, within
      limits): buying is cheaper otherwise;
    - storage charges when the price is below ``cheap`` and discharges above ``expensive``
      (thresholds that cover the round-trip losses and wear), staying within its soft
      state-of-charge limits;
    - voltage comes first: with a bus within ``headroom`` of ``V_MAX - margin`` storage does not
      discharge and generators absorb reactive power; above it storage charges (both lower the
      voltage); with a bus below ``V_MIN + margin`` the reverse.

    The defaults were tuned on the train split (the baselines are reported on the test split).

    Commands are what the devices can deliver (their own P/Q/S/pf and energy limits). In
    event-driven runs the observation vector is ``obs.global_info[agent_id]``.
    """

    def __init__(self, agent: GridAgent, cheap: float = 35.0, expensive: float = 48.0, margin: float = 0.0,
                 headroom: float = 0.01) -> None:
        self.agent_id, self.cheap, self.expensive, self.headroom = agent.agent_id, cheap, expensive, headroom
        self.v_high, self.v_low = V_MAX - margin, V_MIN + margin
        fields = agent.device_fields()
        n = len(fields)
        self._price = n + NETWORK_FIELDS.index("price")
        self._voltages = slice(n + len(NETWORK_FIELDS), None)
        self._slots: list[tuple[str, tuple]] = []
        self._held: list[Transformer | Shunt] = []
        for dev in agent.devices.values():
            f, i = dev.fleet if isinstance(dev, (Generator, ESS)) else None, getattr(dev, "index", None)
            if isinstance(dev, Generator):
                params = tuple(float(getattr(f, k)[i]) for k in ("p_min", "p_max", "q_min", "q_max", "s_max", "q_slope", "q_idle"))
                self._slots.append(("generator", params + (float(f.cost_a[i]), float(f.cost_b[i]))))
            elif isinstance(dev, ESS):
                params = tuple(float(getattr(f, k)[i]) for k in ("p_min", "p_max", "capacity", "soc_min", "soc_max", "eff_ch", "eff_dis"))
                self._slots.append(("storage", params + (fields.index((dev.agent_id, "soc")),)))
            elif isinstance(dev, (Transformer, Shunt)):  # hold the current setting (discrete entries come last)
                self._held.append(dev)

    def forward(self, obs: Observation | np.ndarray) -> np.ndarray:
        vec = obs.global_info[self.agent_id] if isinstance(obs, Observation) else np.asarray(obs)
        price = float(vec[self._price])
        voltages = vec[self._voltages]
        v_max = float(voltages.max()) if voltages.size else 1.0
        v_min = float(voltages.min()) if voltages.size else 1.0
        high, near_high = v_max > self.v_high, v_max > self.v_high - self.headroom
        low = v_min < self.v_low
        action: list[float] = []
        for kind, params in self._slots:
            if kind == "generator":
                p_min, p_max, q_min, q_max, s_max, q_slope, q_idle, a, b = params
                p = (p_max if price > b else p_min) if a == 0.0 else (price - b) / (2.0 * a)
                q = q_min if near_high else q_max if low else 0.0
                action += generator_output(p, q, p_min, p_max, q_min, q_max, s_max, q_slope, q_idle)
            else:
                p_min, p_max, capacity, soc_min, soc_max, eff_ch, eff_dis, at = params
                soc = float(vec[at])
                room = max(soc_max - soc, 0.0) * capacity / eff_ch  # MW over one hour, within the soft limits
                held = max(soc - soc_min, 0.0) * capacity * eff_dis
                if high or (price < self.cheap and not low):
                    action.append(min(room, p_max))
                elif low or (price > self.expensive and not near_high):
                    action.append(-min(held, -p_min))
                else:
                    action.append(0.0)
        action += [d.tap_pos - d.tap_min if isinstance(d, Transformer) else d.step for d in self._held]
        return np.array(action, dtype=float)
