"""The earlier ``heron.utils``: the agent id type, float32 helpers and a provider registry."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = ["AgentID", "float_if_not_none", "cat_f32", "as_f32", "one_hot", "ProviderRegistry", "provider"]

#: An agent's id: a string (this package's agents use plain strings too).
AgentID = str
T = TypeVar("T", bound=type)


def float_if_not_none(value: Any) -> float | None:
    """``value`` as a float (numbers and numeric text), None as None."""
    return None if value is None else float(value)


def cat_f32(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The arrays end to end as one float32 vector (empty for no arrays)."""
    return np.concatenate(parts, dtype=np.float32) if len(parts) else np.zeros(0, np.float32)


def as_f32(value: float) -> np.float32:
    return np.float32(value)


def one_hot(index: int, size: int) -> np.ndarray:
    """A float32 vector of ``size`` with a 1 at ``index``, clipped into range (the earlier
    behaviour: -1 marks the first entry, ``size`` the last); empty for size 0."""
    out = np.zeros(size, np.float32)
    if size > 0:
        out[min(max(int(index), 0), size - 1)] = 1.0
    return out


class ProviderRegistry:
    """Types by name, for code that registered feature providers by decorator."""

    _types: ClassVar[dict[str, type]] = {}

    @classmethod
    def register(cls, kind: type, name: str | None = None) -> None:
        cls._types[name or kind.__name__] = kind

    @classmethod
    def get(cls, name: str) -> type | None:
        return cls._types.get(name)

    @classmethod
    def all(cls) -> dict[str, type]:
        return dict(cls._types)


def provider(name: str | None = None) -> Callable[[T], T]:
    """Class decorator: register the class under ``name`` (its own name by default)."""
    def register(kind: T) -> T:
        ProviderRegistry.register(kind, name)
        return kind
    return register
