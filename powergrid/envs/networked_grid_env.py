"""NetworkedGridEnv: microgrids (one RL agent each) on a shared distribution network.

Subclasses build the model (``_build_net``, ``_build_agents``) and score it
(``_reward_and_safety``); this class runs it in both modes with one physics:

- centralized: every agent's action is gathered into device arrays with precomputed index
  maps, fleets step vectorized, the power flow is solved once, rewards and observations are
  array reductions and gathers. No pandas and no per-device Python in the step.
- distributed: each action is published on ``action_channel('environment', agent)``; each
  microgrid's :class:`Proxy` passes it down as device setpoints; devices act and publish
  state updates; the env reads only those, solves, and publishes each agent's power-flow
  results; each agent computes its own observation and cost from its messages and reports
  them. Every message published in a step is consumed in that step.

Per step: ``actions`` are clipped to the action space (flagged as ``infos[a]['action_clipped']``);
NaN or a wrong shape raises ``ValueError``. A power flow that does not converge never raises:
every agent gets ``convergence_failure_reward`` and ``convergence_failure_safety``, and the
network part of its observation keeps the last converged values.
"""
from __future__ import annotations

import asyncio
import math
import uuid
from abc import abstractmethod
from typing import Any, Mapping

import numpy as np
from gymnasium import spaces

from heron.agents.proxy import ENVIRONMENT_ID, Proxy
from heron.envs.base import HeronEnv
from heron.messaging.base import Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager
from heron.messaging.memory import InMemoryBroker
from powergrid.agents.grid_agent import GridAgent

__all__ = ["NetworkedGridEnv"]

COMMON_DEFAULTS: dict[str, Any] = {
    "centralized": True,
    "message_broker": "in_memory",
    "max_episode_steps": 24,
    "train": True,
    "share_reward": False,
    "penalty": 10.0,
    "convergence_failure_reward": -200.0,
    "convergence_failure_safety": 20.0,
    "env_id": None,
}


class NetworkedGridEnv(HeronEnv):
    """PettingZoo ``ParallelEnv`` over microgrid controllers (see the module doc)."""

    metadata = {"name": "networked_grid_v0", "render_modes": []}
    DEFAULTS: dict[str, Any] = COMMON_DEFAULTS

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        cfg = self._validated_config(config)
        self.config = cfg
        broker = cfg["message_broker"]
        if broker == "in_memory" or (broker is None and not cfg["centralized"]):
            broker = InMemoryBroker()
        super().__init__(env_id=cfg["env_id"] or uuid.uuid4().hex[:12], message_broker=broker)
        self.centralized = bool(cfg["centralized"])
        self.max_episode_steps = int(cfg["max_episode_steps"])
        self.net = self._build_net()
        self.agent_dict: dict[str, GridAgent] = self._build_agents()
        self._compile()

    # ------------------------------------------------------------- config
    def _validated_config(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        if config is not None and not isinstance(config, Mapping):
            raise ValueError(f"config must be a dict or None, got {type(config).__name__}")
        config = dict(config or {})
        unknown = sorted(set(config) - set(self.DEFAULTS))
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; valid keys: {sorted(self.DEFAULTS)}")
        cfg = {**self.DEFAULTS, **config}
        for key in ("centralized", "train", "share_reward"):
            if not isinstance(cfg[key], (bool, np.bool_)):
                raise ValueError(f"config {key!r} must be True or False, got {cfg[key]!r}")
        steps = cfg["max_episode_steps"]
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"config 'max_episode_steps' must be a positive integer, got {steps!r}")
        for key in ("penalty", "convergence_failure_reward", "convergence_failure_safety"):
            if not isinstance(cfg[key], (int, float, np.number)) or isinstance(cfg[key], bool) or not math.isfinite(cfg[key]):
                raise ValueError(f"config {key!r} must be a finite number, got {cfg[key]!r}")
        if cfg["penalty"] < 0:
            raise ValueError(f"config 'penalty' must be >= 0, got {cfg['penalty']!r}")
        broker = cfg["message_broker"]
        if not (broker is None or broker == "in_memory" or isinstance(broker, MessageBroker)):
            raise ValueError(f"config 'message_broker' must be 'in_memory', a MessageBroker or None, got {broker!r}")
        if cfg["env_id"] is not None and (not isinstance(cfg["env_id"], str) or not cfg["env_id"]):
            raise ValueError(f"config 'env_id' must be a non-empty string or None, got {cfg['env_id']!r}")
        return cfg

    # ------------------------------------------------------------ subclass hooks
    @abstractmethod
    def _build_net(self):
        """Return the fused pandapower net; also create the fleets and index maps (see
        ``_compile`` for the attributes it reads)."""

    @abstractmethod
    def _build_agents(self) -> dict[str, GridAgent]:
        """Return agent id -> GridAgent (with its devices), in agent order."""

    @abstractmethod
    def _reward_and_safety(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-agent cost and safety of the step just solved (centralized, from arrays)."""

    @abstractmethod
    def _make_backend(self):
        """The power-flow backend for ``self.net``."""

    # ---------------------------------------------------------------- compile
    def _compile(self) -> None:
        """Precompute every index map and buffer the step uses."""
        self.backend = self._make_backend()
        self.possible_agents = list(self.agent_dict)
        self.agents = list(self.possible_agents)
        n = len(self.possible_agents)
        agents = list(self.agent_dict.values())
        self.action_spaces = {a: ag.action.space for a, ag in self.agent_dict.items()}
        self.observation_spaces = {
            a: spaces.Box(-np.inf, np.inf, shape=(ag.observation_dim,), dtype=np.float32) for a, ag in self.agent_dict.items()
        }
        state_dim = sum(ag.observation_dim for ag in agents) + len(self.net.bus)
        self.state_space = spaces.Box(-np.inf, np.inf, shape=(state_dim,), dtype=np.float32)
        # actions: one flat vector over agents, then gathers into the fleets
        dims = [ag.action.dim for ag in agents]
        self._action_offsets = np.concatenate([[0], np.cumsum(dims)]).astype(np.int64)
        self._action_low = np.concatenate([ag.action.low if ag.action.dim_d == 0 else np.r_[ag.action.low, np.zeros(ag.action.dim_d)] for ag in agents])
        self._action_high = np.concatenate([ag.action.high if ag.action.dim_d == 0 else np.r_[ag.action.high, ag.action.ncats - 1] for ag in agents])
        self._flat_action = np.zeros(int(self._action_offsets[-1]))
        self.register_heron_agents(agents)
        for agent in agents:
            for device in agent.devices.values():
                device.dt_h = self.dt_h
        self._proxies: list[Proxy] = []
        if not self.centralized:
            self._setup_distributed()

    # --------------------------------------------------------------- spaces
    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:
        return len(self.possible_agents)

    # ------------------------------------------------------------ validation
    def _gather_actions(self, actions: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Validated flat action vector (clipped) and a per-agent 'was clipped' flag."""
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must be a dict of agent id -> action, got {type(actions).__name__}")
        missing = [a for a in self.agents if a not in actions]
        extra = [a for a in actions if a not in self.agents]
        if missing or extra:
            raise ValueError(f"actions must have one entry per live agent {self.agents}; missing {missing}, unexpected {extra}")
        flat = self._flat_action
        offsets = self._action_offsets
        for k, agent_id in enumerate(self.possible_agents):
            value = actions[agent_id]
            if isinstance(value, Mapping):  # Dict spaces (mixed continuous/discrete)
                value = np.concatenate([np.ravel(value.get("c", ())), np.ravel(value.get("d", ()))])
            arr = value if type(value) is np.ndarray else np.asarray(value, dtype=np.float64)
            lo, hi = offsets[k], offsets[k + 1]
            if arr.ndim != 1 or arr.shape[0] != hi - lo:
                if arr.size == hi - lo and arr.ndim == 0:
                    arr = arr.reshape(1)
                else:
                    raise ValueError(f"agent {agent_id!r}: action has shape {arr.shape}, expected ({hi - lo},)")
            flat[lo:hi] = arr
        if not math.isfinite(flat.sum()):
            bad = [a for k, a in enumerate(self.possible_agents) if not np.all(np.isfinite(flat[offsets[k]:offsets[k + 1]]))]
            raise ValueError(f"agent(s) {bad}: action contains NaN or inf")
        clipped = np.clip(flat, self._action_low, self._action_high)
        changed = clipped != flat
        flags = np.add.reduceat(changed, offsets[:-1]) > 0 if flat.size else np.zeros(len(offsets) - 1, bool)
        return clipped, flags

    # ------------------------------------------------------------- PettingZoo
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        elif not hasattr(self, "_rng"):
            self._rng = np.random.default_rng()
        self.agents = list(self.possible_agents)
        self._t = 0
        self._start_episode(options or {})
        if self.message_broker is not None:
            self.message_broker.clear_environment(self.env_id)
        self._solve_and_score(first=True)
        obs = self._observations()
        return obs, {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]):
        if not self.agents or not hasattr(self, "_t"):
            raise RuntimeError("step() needs a running episode: call reset() first")
        flat, clipped = self._gather_actions(actions)
        self._t += 1
        if self.centralized:
            self._apply_actions(flat)
            cost, safety, converged = self._solve_and_score()
            obs = self._observations()
        else:
            obs, cost, safety, converged = self._step_distributed(flat)
        rewards, infos = self._rewards(cost, safety, converged, clipped)
        truncated = self._t >= self.max_episode_steps
        terminations = {a: False for a in self.agents}
        truncations = {a: truncated for a in self.agents}
        if truncated:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _rewards(self, cost: np.ndarray, safety: np.ndarray, converged: bool, clipped: np.ndarray):
        cfg = self.config
        if converged:
            reward = -(cost + cfg["penalty"] * safety)
        else:
            safety = safety + cfg["convergence_failure_safety"]
            reward = np.full(len(cost), float(cfg["convergence_failure_reward"]))
        if cfg["share_reward"]:
            reward = np.full(len(reward), reward.mean())
        rewards = dict(zip(self.possible_agents, reward.tolist()))
        infos = {a: {"cost": c, "safety": s, "converged": converged, "action_clipped": bool(f)}
                 for a, c, s, f in zip(self.possible_agents, cost.tolist(), safety.tolist(), clipped)}
        return rewards, infos

    # --------------------------------------------------------- centralized path
    @abstractmethod
    def _start_episode(self, options: Mapping[str, Any]) -> None:
        """Pick the episode's start hour and reset device state."""

    @abstractmethod
    def _apply_actions(self, flat: np.ndarray) -> None:
        """Write the flat action vector into the device fleets (vectorized)."""

    @abstractmethod
    def _solve_and_score(self, first: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
        """Set profiles and injections, solve, and return (cost, safety, converged)."""

    @abstractmethod
    def _observations(self) -> dict[str, np.ndarray]:
        """Each agent's observation from the arrays."""

    def state(self) -> np.ndarray:
        """Global state for centralized critics: every agent's observation, then all bus voltages."""
        obs = self._observations()
        return np.concatenate([obs[a] for a in self.possible_agents] + [self.backend.result.vm_pu.astype(np.float32)])

    # --------------------------------------------------------- distributed path
    def _setup_distributed(self) -> None:
        """Wrap every agent in a Proxy on the broker; precompute the channels the env uses."""
        broker = self.message_broker
        for agent in self.agent_dict.values():
            self._proxies.append(Proxy(f"{agent.agent_id}_proxy", agent, broker, upstream_id=ENVIRONMENT_ID, env_id=self.env_id))
            for device in agent.devices.values():
                self._proxies.append(Proxy(f"{device.agent_id}_proxy", device, broker, env_id=self.env_id))
        self._grid_proxies = {p.actual_agent.agent_id: p for p in self._proxies if isinstance(p.actual_agent, GridAgent)}
        self._device_proxies = [p for p in self._proxies if not isinstance(p.actual_agent, GridAgent)]
        env = self.env_id
        self._command_channels = {a: ChannelManager.action_channel(ENVIRONMENT_ID, a, env) for a in self.possible_agents}
        self._report_channels = {a: ChannelManager.info_channel(a, ENVIRONMENT_ID, env) for a in self.possible_agents}
        self._result_channels = {a: ChannelManager.power_flow_result_channel(env, a) for a in self.possible_agents}
        self._state_channel = ChannelManager.state_update_channel(env)
        self._evaluation_channel = ChannelManager.custom_channel("evaluation", env, ENVIRONMENT_ID)
        self._loop = asyncio.new_event_loop()

    async def _step_agents(self, proxies: list[Proxy]) -> None:
        for proxy in proxies:
            await proxy.step_distributed()

    def _step_distributed(self, flat: np.ndarray):
        broker, env = self.message_broker, self.env_id
        offsets = self._action_offsets
        for k, agent_id in enumerate(self.possible_agents):  # 1. the env sends each agent its action
            broker.publish(self._command_channels[agent_id], Message(
                env, ENVIRONMENT_ID, agent_id, float(self._t), MessageType.ACTION, {"setpoint": flat[offsets[k]:offsets[k + 1]].copy()}))
        for agent in self.agent_dict.values():
            agent.timestamp = float(self._t)
            for device in agent.devices.values():
                device.timestamp = float(self._t)
        # 2. controllers pass setpoints down, then devices act and publish state updates
        self._loop.run_until_complete(self._step_agents(list(self._grid_proxies.values()) + self._device_proxies))
        for agent_id in self.possible_agents:  # controllers' reports of their own action
            broker.consume(self._report_channels[agent_id], ENVIRONMENT_ID, env)
        updates = {m.sender_id: m.payload for m in broker.consume(self._state_channel, ENVIRONMENT_ID, env)}
        # 3. the env applies what devices reported, solves, and publishes each agent's results
        self._apply_state_updates(updates)
        converged = self._solve_network()
        for agent_id in self.possible_agents:
            broker.publish(self._result_channels[agent_id], Message(
                env, ENVIRONMENT_ID, agent_id, float(self._t), MessageType.RESULT, self._network_payload(agent_id, converged)))
        # 4. each agent reads its results and its devices' reports, evaluates, and reports back
        for agent_id, proxy in self._grid_proxies.items():
            proxy.refresh_network_state()
            agent = self.agent_dict[agent_id]
            obs, cost, safety = self._evaluate_agent(agent, proxy)
            broker.publish(self._evaluation_channel, Message(
                env, agent_id, ENVIRONMENT_ID, float(self._t), MessageType.INFO, {"obs": obs, "cost": cost, "safety": safety}))
        evaluations = {m.sender_id: m.payload for m in broker.consume(self._evaluation_channel, ENVIRONMENT_ID, env)}
        obs = {a: evaluations[a]["obs"] for a in self.possible_agents}
        cost = np.array([evaluations[a]["cost"] for a in self.possible_agents])
        safety = np.array([evaluations[a]["safety"] for a in self.possible_agents])
        return obs, cost, safety, converged

    @abstractmethod
    def _apply_state_updates(self, updates: Mapping[str, Mapping[str, float]]) -> None:
        """Write the devices' reported injections into the power-flow backend."""

    @abstractmethod
    def _solve_network(self) -> bool:
        """Set profiles, solve; returns convergence (distributed path)."""

    @abstractmethod
    def _network_payload(self, agent_id: str, converged: bool) -> dict[str, Any]:
        """What the env tells one agent after the power flow."""

    @abstractmethod
    def _evaluate_agent(self, agent: GridAgent, proxy: Proxy) -> tuple[np.ndarray, float, float]:
        """An agent's observation, cost and safety from its own messages only."""

    def close(self) -> None:
        if getattr(self, "_loop", None) is not None:
            self._loop.close()
            self._loop = None
