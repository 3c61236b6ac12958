"""What the earlier HERON/PowerGrid's env offered beside the PettingZoo API, on this env.

(``env.dso`` and ``env._day`` included: the operator's profiles and the episode's day.)

The earlier ``NetworkedGridEnv`` had ``actionable_agents``, ``configure_agents_for_distributed``
and CTDE metrics (``get_collective_metrics``, ``get_power_grid_metrics``,
``get_ctde_training_info``); its examples and users call them. Here they read the grid core's
arrays: the same numbers the step scores, no second bookkeeping.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from powergrid.core.actions import rewards
from powergrid.core.safety import V_MAX, V_MIN

__all__ = ["EarlierEnvAPI", "EpisodeFlags", "OperatorView"]


class OperatorView(NamedTuple):
    """The earlier env's ``dso`` (its operator agent), as far as users read it: the name, the
    network, and ``dataset``: the operator's load, solar, wind and price profiles in the split
    the env plays (``{'load': array, ...}``, hourly)."""

    name: str
    net: Any
    dataset: dict[str, np.ndarray]


class EpisodeFlags(dict):
    """An agent -> flag dict (PettingZoo's terminations or truncations) that also answers
    ``flags["__all__"]`` and ``flags.get("__all__")``: whether the episode is over, as the
    earlier env's loops (and RLlib's) read it. The key is not listed (``keys()``, iteration,
    ``len``), so PettingZoo's API and vector wrappers see the agents only."""

    episode_over = False  # set on the instance when the episode is over

    @classmethod
    def of(cls, agents: Iterable[str], flag: bool, episode_over: bool) -> "EpisodeFlags":
        """Every agent's ``flag`` (built as fast as a plain dict: this runs every step)."""
        flags = cls.fromkeys(agents, flag)
        if episode_over:
            flags.episode_over = True
        return flags

    def __getitem__(self, key: str) -> bool:
        return self.episode_over if key == "__all__" else dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return self.episode_over if key == "__all__" else dict.get(self, key, default)

    def __reduce__(self):  # pickles (vector envs' pipes) as itself
        return _episode_flags, (dict(self), self.episode_over)


def _episode_flags(flags: dict[str, bool], episode_over: bool) -> EpisodeFlags:
    restored = EpisodeFlags(flags)
    restored.episode_over = episode_over
    return restored


class EarlierEnvAPI:
    """Mixed into :class:`~powergrid.envs.networked_grid_env.NetworkedGridEnv`."""

    @property
    def env_config(self) -> dict[str, Any]:
        """The config the env runs with (every key, defaults filled in): the earlier name of ``config``."""
        return self.config

    @property
    def _name(self) -> str:
        """The env's name, the id the earlier package gave its controllers as their upstream."""
        return type(self).__name__

    @property
    def _t(self) -> int:
        """The dataset hour the next step plays (the earlier package's clock)."""
        return int(self.core.start_hour + self.core.t)

    def _reward_and_safety(self) -> tuple[dict[str, float], dict[str, float]]:
        """The current step's (rewards, safety) by agent, by the env's rules (the earlier hook; a
        subclass overrides it to reward its own way, reading each agent's ``cost`` and ``safety``)."""
        cost, safety = self.core.score()
        self._tell_agents(cost, safety)
        reward, safety = rewards(cost, safety, bool(getattr(self, "last_converged", True)), self.config)
        return dict(zip(self.possible_agents, reward.tolist())), dict(zip(self.possible_agents, safety.tolist()))

    def _tell_agents(self, cost: np.ndarray, safety: np.ndarray) -> None:
        """Each agent's ``cost`` and ``safety`` of the step, where the earlier hook reads them."""
        for agent, c, s in zip(self.agent_dict.values(), cost.tolist(), safety.tolist()):
            agent.cost, agent.safety = c, s

    def _earlier_rewards(self, cost: np.ndarray, safety: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A subclass's own ``_reward_and_safety`` reads each agent's ``cost`` and ``safety`` (set
        here) and returns (rewards, safety) dicts: its rewards stand. Returns (safety, rewards)."""
        self._tell_agents(cost, safety)
        rewards_by_agent, safety_by_agent = self._reward_and_safety()
        if not isinstance(rewards_by_agent, Mapping):
            raise ValueError("a subclass's _reward_and_safety must return (rewards, safety) "
                             f"dicts by agent, got {type(rewards_by_agent).__name__}")
        ids = self.possible_agents
        return np.array([float(safety_by_agent[a]) for a in ids]), np.array([float(rewards_by_agent[a]) for a in ids])

    @property
    def _safety(self) -> float:
        """The safety penalty factor (config ``penalty``), by the earlier attribute name."""
        return self.config["penalty"]

    @property
    def _convergence_failure_reward(self) -> float:
        return self.config["convergence_failure_reward"]

    @property
    def _convergence_failure_safety(self) -> float:
        return self.config["convergence_failure_safety"]

    @property
    def _day(self) -> int:
        """The day the current episode started on (0 before the first reset)."""
        day = self.episode_day
        return 0 if day is None else day

    @property
    def dso(self) -> OperatorView:
        model, split = self.model, self.core.split
        dso = getattr(model, "operator_config", None) or dict(self.config.get("dso_config") or {})
        profiles = model.dataset[split]
        price_area = dso.get("price_area") or model.only_area("price")
        renew = dso.get("renew_area")
        load_area = dso.get("load_area") or model.only_area("load")
        dataset = {"load": profiles["load"][load_area], "price": profiles["price"][price_area],
                   "solar": profiles["solar"][renew] if renew else np.zeros_like(profiles["price"][price_area]),
                   "wind": profiles["wind"][renew] if renew else np.zeros_like(profiles["price"][price_area])}
        return OperatorView(str(dso.get("name", "DSO")), self.net, dataset)

    @property
    def actionable_agents(self) -> dict[str, Any]:
        """Agents that have an action (every microgrid with a device to command)."""
        return {a: agent for a, agent in self.agent_dict.items() if agent.action.dim}

    def configure_agents_for_distributed(self) -> None:
        """Check that every agent runs over the env's broker. A distributed env's sites are wired
        when it is built (``centralized: False``); a centralized env cannot become distributed."""
        if self.centralized:
            raise ValueError("this env runs centralized: build it with config 'centralized': False for distributed mode")
        for agent_id, agent in self.agent_dict.items():
            if agent.broker is not self.message_broker:
                raise ValueError(f"agent {agent_id!r} is not on the env's message broker")

    def get_collective_metrics(self) -> dict[str, float]:
        """The current hour's total cost and safety, the mean of -(cost + safety) over agents and a
        cooperation score 1 / (1 + variance of that) (the earlier package's definitions)."""
        cost, safety = self.core.score()
        individual = -(cost + safety)
        return {"total_cost": float(cost.sum()), "total_safety": float(safety.sum()), "mean_reward": float(individual.mean()),
                "cooperation_score": float(1.0 / (1.0 + individual.var()))}

    def get_power_grid_metrics(self) -> dict[str, Any]:
        """The collective metrics, with the microgrids' generation and load (MW: generators and
        renewables, and storage discharging, against loads and storage charging), the network's buses outside
        [V_MIN, V_MAX] and lines above 100 %, and whether the last power flow converged."""
        core, lay = self.core, self.layout
        storage = core.storage.p
        generation = float(core.generators.p.sum() + core.renewables.p.sum() + np.maximum(-storage, 0.0).sum())
        load = float(lay.owners["load"].sum(core.backend.load_p).sum()) + float(np.maximum(storage, 0.0).sum())
        vm, loading = core.results["vm"], core.results["line"]
        return {**self.get_collective_metrics(), "total_generation_mw": generation, "total_load_mw": load,
                "power_balance_mw": generation - load, "voltage_violations": int(np.sum((vm > V_MAX) | (vm < V_MIN))),
                "line_overloads": int(np.sum(loading > 100.0)), "convergence": bool(self.last_converged)}

    def get_ctde_training_info(self) -> dict[str, Any]:
        """The power-grid metrics with each agent's cost and safety and the clock."""
        cost, safety = self.core.score()
        return {**self.get_power_grid_metrics(), "agent_costs": dict(zip(self.possible_agents, cost.tolist())),
                "agent_safety": dict(zip(self.possible_agents, safety.tolist())), "episode_step": int(self.core.t),
                "timestep": int(self.core.hour)}
