"""Batched envs: B copies of a setup stepped in lockstep in one process, for training throughput.

:class:`BatchedMicrogrids` is the multi-agent view: the PettingZoo ``ParallelEnv`` calls with a
batch axis in front (``obs[agent]`` has shape ``(B, obs_dim)``, ``rewards[agent]`` ``(B,)``).
:class:`MicrogridsVectorEnv` is the single-agent view as a Gymnasium ``VectorEnv``: one agent
controls every microgrid (observations and actions concatenated, rewards summed), or one named
microgrid while the others hold their actions, as :class:`MultiAgentToSingleAgent` does.

Each copy runs exactly the centralized step of the env it is a copy of: the env's step
functions are written over leading axes, so here they run once on ``(B, ...)`` arrays, and the
B power flows are solved together by the Numba Newton kernel (a copy it cannot solve falls back
to the env's own backend). From four copies with the built-in devices the whole step is one
kernel call instead (:mod:`powergrid.core.fused`, held equal to these functions by a test).
Copies restart on their own when their episode ends, in the same step (Gymnasium's
``SAME_STEP`` autoreset): the returned observation is the new episode's first, and
``infos['final_obs']`` holds the last one where ``infos['_final_obs']`` is set.
Observations and rewards are written into preallocated float32 arrays that every call returns
again: copy what you keep; terminations and truncations are fresh arrays every step. Copy ``b`` behaves as a single env reset with seed ``seed + b``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.core.actions import flags_by_agent, gather_batch, read_batch, rewards
from powergrid.core.config import reset_options
from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["BatchedMicrogrids", "MicrogridsVectorEnv"]


class BatchedMicrogrids:
    """``num_envs`` copies of ``env_class(config)`` (default :class:`MultiAgentMicrogrids`).

    ``step`` takes, per agent, an array ``(B, act_dim)`` (a dict), or one ``(B, n_agents,
    act_dim)`` array when all agents have the same ``act_dim``, or the joint ``(B, total_dim)``
    array of all agents' actions side by side. As in the single env, out-of-range actions are
    clipped and flagged (``infos['action_clipped']``, ``(B, n_agents)``), and NaN, infinite or
    wrongly shaped actions raise ``ValueError``.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int, config: Mapping[str, Any] | None = None,
                 env_class: type[NetworkedGridEnv] = MultiAgentMicrogrids, fused: bool | None = None) -> None:
        """``fused``: step through the fused kernel (:mod:`powergrid.core.fused`; None: where the
        setup allows, True: or raise, False: the step core's numpy functions around the power flow)."""
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if config is not None and isinstance(config, Mapping) and not config.get("centralized", True):
            raise ValueError("a batched env runs the centralized step; config 'centralized' must be True "
                             "(validate distributed behaviour with the single env)")
        env = env_class(config)
        self.num_envs = B = int(num_envs)
        self.config = env.config
        self.possible_agents = list(env.possible_agents)
        self.agents = list(self.possible_agents)
        self.observation_spaces, self.action_spaces = env.observation_spaces, env.action_spaces
        self.max_episode_steps = env.max_episode_steps
        self.core = env.core.batched(B)
        self.layout = layout = env.layout
        n = len(self.possible_agents)
        self._raw = np.zeros((B, int(layout.action_offsets[-1])))
        self._flat = np.zeros_like(self._raw)
        self._all = np.ones(B, bool)
        self._rngs: list[np.random.Generator] | None = None
        self._drawn: list[dict] | None = None  # the generators' states before this step's episode draws
        dims = [len(x) for x in layout.obs_layout]
        obs_offsets = np.concatenate([[0], np.cumsum(dims)])
        self._obs_index = np.concatenate(layout.obs_index)
        self._obs_scale = np.concatenate(layout.obs_scale)
        self._obs_offsets = obs_offsets
        self.obs_array = np.zeros((B, int(obs_offsets[-1])), np.float32)
        self.final_obs_array = np.zeros_like(self.obs_array)
        self.reward_array = np.zeros((B, n), np.float32)
        self._views()
        self._fused = self._fused_step(fused)

    def _fused_step(self, fused: bool | None):
        if fused is False:
            return None
        from powergrid.core.fused import FusedStep, unfusable  # Numba: compiled on first use

        reason = unfusable(self.core)
        if reason is None:
            return FusedStep(self.core, self._obs_index, self._obs_scale, self.obs_array)
        if fused:
            raise ValueError(f"fused=True, but this setup cannot take the fused step: {reason}")
        return None

    @property
    def fused(self) -> bool:
        """Whether a step runs as one fused kernel call (:mod:`powergrid.core.fused`)."""
        return self._fused is not None

    def _views(self) -> None:
        """Per-agent views into the output buffers (a copy of the batch makes them anew)."""
        cuts = self._obs_offsets
        self.observations = {a: self.obs_array[:, cuts[k]:cuts[k + 1]] for k, a in enumerate(self.possible_agents)}
        self.final_observations = {a: self.final_obs_array[:, cuts[k]:cuts[k + 1]] for k, a in enumerate(self.possible_agents)}
        self.rewards = {a: self.reward_array[:, k] for k, a in enumerate(self.possible_agents)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._views()

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> spaces.Space:
        """The space of one copy's observation of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    @property
    def backend(self):
        """The batched power flow (``fallback_solves`` counts the copies it passed on)."""
        return self.core.backend

    # -------------------------------------------------------------------- API
    def reset(self, seed: int | list[int] | None = None, options: dict | None = None):
        """Start every copy's episode; copy ``b`` draws from seed ``seed + b`` (or ``seed[b]``)."""
        B = self.num_envs
        if seed is not None:
            seeds = [seed + b for b in range(B)] if isinstance(seed, (int, np.integer)) else list(seed)
            if len(seeds) != B:
                raise ValueError(f"seed must be an int or {B} ints, got {len(seeds)}")
            self._rngs = [np.random.default_rng(s) for s in seeds]
        elif self._rngs is None:
            self._rngs = [np.random.default_rng() for _ in range(B)]
        core = self.core
        core.start_episode(None, reset_options(options), rows=self._all, rngs=self._rngs)
        self._first_solve(self._all)
        return self.observations, {}

    def step(self, actions: Mapping[str, Any] | np.ndarray):
        """One hour in every copy. A step that raises (bad input, an error in a device's own
        code) leaves the whole batch as it was: clocks, devices, power flows, observations."""
        core = self.core
        if self._rngs is None:
            raise RuntimeError("step() needs running episodes: call reset() first")
        saved, rewards, self._drawn = core.checkpoint(), self.reward_array.copy(), None
        try:
            return self._step(actions)
        except BaseException:
            core.restore(saved)
            self._write_observations()
            self.reward_array[:] = rewards
            if self._drawn is not None:  # the next episodes' draws, as if they had not been made
                for rng, state in zip(self._rngs, self._drawn):
                    rng.bit_generator.state = state
            raise

    def _step(self, actions: Mapping[str, Any] | np.ndarray):
        core = self.core
        if self._fused is not None:
            raw = read_batch(actions, self.possible_agents, self.layout, self._raw)
            flat, clipped, delivered, limited, cost, safety, converged = self._fused.step(raw)  # observations written
        else:
            flat, clipped = gather_batch(actions, self.possible_agents, self.layout, self._raw, self._flat)
            core.t += 1
            core.advance_profiles()
            core.apply_actions(flat)
            delivered = core.delivered_actions(flat)
            limited = flags_by_agent(delivered != flat, self.layout.action_bounds[-1])
            core.push_devices()
            converged = core.solve()
            cost, safety = core.score()
            self._write_observations()
        truncated = core.t >= self.max_episode_steps
        credit = np.where(truncated[:, None], core.stored_energy_credit(), 0.0)  # see NetworkedGridEnv
        cost = cost - credit
        reward, safety = rewards(cost, safety, converged, self.config)
        self.reward_array[:] = reward
        infos: dict[str, Any] = {"cost": cost, "safety": safety, "converged": converged.copy(), "action_clipped": clipped,
                                 "action_limited": limited, "delivered_action": delivered, "stored_energy_credit": credit}
        if truncated.any():
            np.copyto(self.final_obs_array, self.obs_array)
            self._drawn = [rng.bit_generator.state for rng in self._rngs]
            core.start_episode(None, {}, rows=truncated, rngs=self._rngs)
            self._first_solve(truncated)
            infos["final_obs"], infos["_final_obs"] = self.final_observations, truncated
        terminations = {a: np.zeros(self.num_envs, bool) for a in self.possible_agents}  # fresh: the caller's to change
        truncations = {a: truncated.copy() for a in self.possible_agents}
        return self.observations, self.rewards, terminations, truncations, infos

    def _first_solve(self, rows: np.ndarray) -> None:
        """The first hour of the episodes the copies in ``rows`` just started, and their observations."""
        core = self.core
        core.advance_profiles()
        core.push_devices()
        core.solve(rows)
        self._write_observations()

    def close(self) -> None:
        """Nothing to release."""

    def _write_observations(self) -> None:
        np.multiply(self.core.observation_source()[:, self._obs_index], self._obs_scale, out=self.obs_array)


class MicrogridsVectorEnv(gym.vector.VectorEnv):
    """The single-agent view of a batch as a Gymnasium ``VectorEnv``.

    ``autoreset_mode``: ``SAME_STEP`` (the default: the step that ends an episode returns the
    next one's first observation, the last in ``infos['final_obs']``) or ``NEXT_STEP``
    (Gymnasium's own vector envs' mode, which ``gymnasium.wrappers.vector.NormalizeObservation``
    and the other stateful wrappers require: the step that ends an episode returns its last
    observation; the next step ignores the actions and returns the new episode's first, with
    reward 0). Every copy's episode has the same length and starts together, so they all end in
    the same step.

    With ``agent_id=None`` the agent controls every microgrid: an observation is all agents'
    observations side by side, an action all their actions, and the reward their sum. With an
    ``agent_id`` it controls that microgrid; every other agent follows ``other_policies[agent]``
    (a function of its ``(B, obs_dim)`` observations returning ``(B, act_dim)`` actions) or holds
    the zero action clipped into its space. Discrete action entries (tap positions, capacitor
    steps) are part of the Box and are rounded to the nearest whole number.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int, config: Mapping[str, Any] | None = None, agent_id: str | None = None,
                 other_policies: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
                 env_class: type[NetworkedGridEnv] = MultiAgentMicrogrids,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP) -> None:
        modes = {"same_step": AutoresetMode.SAME_STEP, "next_step": AutoresetMode.NEXT_STEP}
        mode = autoreset_mode if autoreset_mode in modes.values() else modes.get(str(autoreset_mode).lower())
        if mode is None:
            raise ValueError(f"autoreset_mode must be one of {list(modes)}, got {autoreset_mode!r}")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self._restart_next = False  # NEXT_STEP: the episodes ended in the last step
        batch = BatchedMicrogrids(num_envs, config, env_class)
        agents = batch.possible_agents
        if agent_id is not None and agent_id not in agents:
            raise ValueError(f"agent_id {agent_id!r} is not an agent of the env; agents: {agents}")
        unknown = sorted(set(other_policies or {}) - set(agents) - {agent_id})
        if unknown or (other_policies and agent_id is None):
            raise ValueError(f"other_policies must name agents other than the controlled one; got {sorted(other_policies or {})}, agents {agents}")
        self.batch, self.agent_id, self.num_envs = batch, agent_id, batch.num_envs
        self.other_policies = dict(other_policies or {})
        offsets = batch.layout.action_offsets
        k = agents.index(agent_id) if agent_id is not None else None
        self._columns = slice(0, int(offsets[-1])) if k is None else slice(int(offsets[k]), int(offsets[k + 1]))
        low, high = batch.layout.action_low[self._columns], batch.layout.action_high[self._columns]
        self.single_action_space = spaces.Box(low.astype(np.float32), high.astype(np.float32), dtype=np.float32)
        observed = [batch.observation_space(a) for a in (agents if k is None else [agent_id])]
        self.single_observation_space = spaces.Box(np.concatenate([o.low for o in observed]),
                                                   np.concatenate([o.high for o in observed]), dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        discrete = batch.layout.discrete_positions
        self._round = discrete[(discrete >= self._columns.start) & (discrete < self._columns.stop)]
        self._joint = np.clip(np.zeros(offsets[-1]), batch.layout.action_low, batch.layout.action_high) * np.ones((self.num_envs, 1))
        self._reward = np.zeros(self.num_envs, np.float32)

    def _obs(self) -> np.ndarray:
        return self.batch.obs_array if self.agent_id is None else self.batch.observations[self.agent_id]

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        self.batch.reset(seed=seed, options=options)
        self._restart_next = False
        return self._obs(), {}

    def step(self, actions: np.ndarray):
        batch, cols = self.batch, self._columns
        value = np.asarray(actions, dtype=np.float64)
        expected = (self.num_envs, cols.stop - cols.start)
        if value.shape != expected:
            raise ValueError(f"actions have shape {value.shape}, expected {expected}")
        if self._restart_next:  # NEXT_STEP: the batch restarted the copies already; show their first observation
            self._restart_next = False
            none = np.zeros(self.num_envs, bool)
            return self._obs(), np.zeros(self.num_envs, np.float32), none, none.copy(), {}
        joint = self._joint
        joint[:, cols] = value
        if self._round.size:
            joint[:, self._round] = np.round(joint[:, self._round])
        offsets = batch.layout.action_offsets
        for agent, policy in self.other_policies.items():
            k = batch.possible_agents.index(agent)
            joint[:, offsets[k]:offsets[k + 1]] = policy(batch.observations[agent])
        _, rewards, _, truncations, infos = batch.step(joint)
        if self.agent_id is None:
            np.sum(batch.reward_array, axis=1, out=self._reward)
            reward = self._reward
        else:
            reward = rewards[self.agent_id]
        truncated = truncations[batch.possible_agents[0]]
        if "final_obs" in infos:
            final = batch.final_obs_array if self.agent_id is None else infos["final_obs"][self.agent_id]
            if self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP:
                if not truncated.all():
                    raise RuntimeError("the copies' episodes ended in different steps, which NEXT_STEP autoreset cannot show")
                self._restart_next = True
                infos = {k: v for k, v in infos.items() if k not in ("final_obs", "_final_obs")}
                return final, reward, np.zeros(self.num_envs, bool), truncated, infos
            infos = {**infos, "final_obs": final}
        return self._obs(), reward, np.zeros(self.num_envs, bool), truncated, infos

    def close(self, **kwargs: Any) -> None:
        self.batch.close()
