"""The batched env as a Stable-Baselines3 ``VecEnv``: PPO, SAC and A2C train on B copies
stepped in one process, with SB3's own ``VecMonitor``, ``VecNormalize`` and ``evaluate_policy``.

    from stable_baselines3 import PPO
    from powergrid.envs.sb3 import MicrogridsVecEnv

    venv = MicrogridsVecEnv(64, {"setup": "ieee34_ieee13"})
    PPO("MlpPolicy", venv, n_steps=24).learn(100_000)

It is :class:`~powergrid.envs.batched.MicrogridsVectorEnv` (one agent controls every
microgrid, or one named microgrid) in SB3's calling convention: ``reset()`` returns the
observations, ``step`` returns ``dones`` and a list of per-copy info dicts; a copy whose
episode ended holds its last observation in ``infos[b]['terminal_observation']`` and
``infos[b]['TimeLimit.truncated']`` (episodes end by their length, never by a terminal state).
Seeds set with ``seed(s)`` apply at the next reset, copy ``b`` drawing from ``s + b``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

try:
    from stable_baselines3.common.vec_env import VecEnv
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("powergrid.envs.sb3 needs Stable-Baselines3: pip install -e \".[rl]\"") from error

from powergrid.envs.batched import MicrogridsVectorEnv
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["MicrogridsVecEnv"]

PER_COPY = ("cost", "safety", "converged", "action_clipped", "action_limited", "delivered_action", "stored_energy_credit")


class MicrogridsVecEnv(VecEnv):
    """``num_envs`` copies of ``env_class(config)`` as an SB3 ``VecEnv`` (see the module doc).
    ``agent_id`` and ``other_policies`` as in :class:`MicrogridsVectorEnv`."""

    def __init__(self, num_envs: int, config: Mapping[str, Any] | None = None, agent_id: str | None = None,
                 other_policies: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
                 env_class: type[NetworkedGridEnv] = MultiAgentMicrogrids) -> None:
        self.venv = MicrogridsVectorEnv(num_envs, config, agent_id, other_policies, env_class)
        self.render_mode = None
        self._actions: np.ndarray | None = None
        super().__init__(self.venv.num_envs, self.venv.single_observation_space, self.venv.single_action_space)

    # ------------------------------------------------------------------ stepping
    def reset(self) -> np.ndarray:
        seeds, options = self._seeds, self._options
        if any(s is None for s in seeds) and any(s is not None for s in seeds):
            raise ValueError(f"seed every copy or none, got {seeds}")
        seed = None if seeds[0] is None else [int(s) for s in seeds]
        merged: dict[str, Any] = {}
        for key in sorted({k for o in options for k in o}):
            values = [o.get(key) for o in options]
            merged[key] = values[0] if all(v == values[0] for v in values) else values
        obs, _ = self.venv.reset(seed=seed, options=merged or None)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async(actions)")
        actions, self._actions = self._actions, None
        obs, reward, terminated, truncated, batch_infos = self.venv.step(actions)
        dones = terminated | truncated
        infos = [{key: _row(batch_infos[key], b) for key in PER_COPY if key in batch_infos} for b in range(self.num_envs)]
        if dones.any():
            final = batch_infos["final_obs"]
            for b in np.flatnonzero(dones):
                infos[b]["terminal_observation"] = np.array(final[b])
                infos[b]["TimeLimit.truncated"] = bool(truncated[b] and not terminated[b])
        return obs.copy(), np.array(reward, dtype=np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    # ------------------------------------------------------- attributes, methods
    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """An attribute of the env the copies share (its config, spaces, agents...), once per copy."""
        value = getattr(self.venv.batch, attr_name) if hasattr(self.venv.batch, attr_name) else getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Set an attribute of the env the copies share: only for every copy at once."""
        self._all_copies(indices, "set_attr")
        setattr(self.venv.batch if hasattr(self.venv.batch, attr_name) else self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Call a method of the env the copies share (e.g. ``observation_space``, ``action_space``
        with an agent id), once; its result is given once per copy."""
        target = self.venv.batch if hasattr(self.venv.batch, method_name) else self.venv
        result = getattr(target, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """The copies are not Gymnasium envs; none is wrapped."""
        return [False for _ in self._get_indices(indices)]

    def _all_copies(self, indices: Any, what: str) -> None:
        chosen: Sequence[int] = list(self._get_indices(indices))
        if sorted(chosen) != list(range(self.num_envs)):
            raise ValueError(f"{what}: the {self.num_envs} copies share one env, so it applies to all of them, "
                             f"not to copies {chosen}")


def _row(value: np.ndarray, b: int) -> Any:
    """Copy ``b``'s entry of a batched info value (an array with the batch first)."""
    row = value[b]
    return row.copy() if isinstance(row, np.ndarray) else row.item()
