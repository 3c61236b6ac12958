"""Policies map an observation to an action vector."""
from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from gymnasium import spaces

from heron.core.observation import Observation

__all__ = ["Policy", "RandomPolicy", "reset_policy"]


class Policy(ABC):
    """Anything with ``forward(obs) -> action``; trained networks wrap themselves in one."""

    @abstractmethod
    def forward(self, obs: Observation | np.ndarray) -> Any:
        """The action for ``obs`` (a flat vector, or a dict for Dict action spaces)."""

    def __call__(self, obs: Observation | np.ndarray) -> Any:
        return self.forward(obs)

    def reset(self, seed: int | None = None) -> None:
        """Called at episode start; stateless policies need nothing."""


class RandomPolicy(Policy):
    """Uniform samples from ``action_space``, reproducible from ``seed``."""

    def __init__(self, action_space: spaces.Space, seed: int | None = None) -> None:
        if not isinstance(action_space, spaces.Space):
            raise ValueError(f"RandomPolicy needs a gymnasium Space, got {type(action_space).__name__}")
        self.action_space = copy.deepcopy(action_space)  # own RNG: sampling must not disturb the caller's space
        self.action_space.seed(seed)

    def forward(self, obs: Observation | np.ndarray) -> Any:
        return self.action_space.sample()

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.action_space.seed(seed)


def reset_policy(policy: Any, seed: int | None = None) -> None:
    """``policy.reset(seed)``; a reset written without a seed parameter (the earlier
    ``def reset(self)``) is called without one."""
    reset = policy.reset
    try:
        takes_seed = bool(inspect.signature(reset).parameters)
    except (TypeError, ValueError):  # a builtin without a signature: pass the seed
        takes_seed = True
    reset(seed) if takes_seed else reset()
