"""What an agent sees at one instant: its local view, what it was told, and when."""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["Observation", "flatten_values"]


def flatten_values(values: Any, out: list[np.ndarray], path: str = "") -> None:
    """Append the numbers in ``values`` (nested dicts, arrays, scalars) to ``out`` in insertion order."""
    if isinstance(values, Mapping):
        for key, value in values.items():
            flatten_values(value, out, f"{path}.{key}" if path else str(key))
        return
    if isinstance(values, (str, bytes)) or values is None:
        raise ValueError(f"observation entry {path!r} is {values!r}; observations hold numbers only")
    arr = np.asarray(values, dtype=np.float32)
    out.append(arr.reshape(-1))


@dataclass
class Observation:
    """``local`` (the agent's own visible state), ``global_info`` (what the env or messages told it)
    and the simulation ``timestamp``. ``vector()`` flattens local then global_info as float32."""

    local: dict[str, Any] = field(default_factory=dict)
    global_info: dict[str, Any] = field(default_factory=dict)
    timestamp: float = 0.0

    def vector(self) -> np.ndarray:
        parts: list[np.ndarray] = []
        flatten_values(self.local, parts)
        flatten_values(self.global_info, parts)
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)

    def as_vector(self) -> np.ndarray:
        """``vector()``, by the earlier HERON's name."""
        return self.vector()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        vec = self.vector()
        return vec if dtype is None else vec.astype(dtype)
