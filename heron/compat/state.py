"""The earlier ``heron.core.state``: an agent's features as an ordered list, seen by id and level.

This package's :class:`heron.core.features.State` keys features by name and answers by viewer
role. The earlier state kept a plain list (two features may share a name) and decided
visibility with each feature's ``is_observable_by(requestor_id, requestor_level, owner_id,
owner_level)``; code written for it gets that contract here.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["State", "FieldAgentState", "CoordinatorAgentState"]


class State:
    """Features owned by ``owner_id`` at hierarchy level ``owner_level`` (1 field, 2 coordinator,
    3 system), in the order given."""

    def __init__(self, owner_id: str = "", owner_level: int = 1, features: Iterable[Any] | None = None) -> None:
        self.owner_id = owner_id
        self.owner_level = owner_level
        self.features: list[Any] = list(features or ())

    def _named(self, name: str) -> list[Any]:
        found = [f for f in self.features if _name(f) == name]
        if not found:
            raise ValueError(f"state of {self.owner_id!r} has no feature {name!r}; it has {[_name(f) for f in self.features]}")
        return found

    def vector(self) -> np.ndarray:
        """Every feature's vector end to end, float32."""
        parts = [np.asarray(f.vector(), dtype=np.float32).ravel() for f in self.features]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def reset(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Reset every feature, then apply ``{feature name: {field: value}}``."""
        for feature in self.features:
            feature.reset()
        if overrides:
            self.update(overrides)

    def update_feature(self, feature_name: str, **values: Any) -> None:
        for feature in self._named(feature_name):
            feature.set_values(**values)

    def update(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """``{feature name: {field: value}}``; an unknown feature name raises ``ValueError``."""
        if not isinstance(updates, Mapping):
            raise ValueError(f"state of {self.owner_id!r}: update takes {{feature name: {{field: value}}}}, got {updates!r}")
        for name, values in updates.items():
            self.update_feature(name, **values)

    def observed_by(self, requestor_id: str, requestor_level: int) -> dict[str, np.ndarray]:
        """``{feature name: vector}`` of the features the requestor may observe."""
        return {_name(f): np.asarray(f.vector(), dtype=np.float32) for f in self.features
                if f.is_observable_by(requestor_id, requestor_level, self.owner_id, self.owner_level)}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {_name(f): f.to_dict() for f in self.features}

    def validate_observation_dict(self, obs_dict: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` unless every key names one of this state's features."""
        known = {_name(f) for f in self.features}
        unknown = sorted(set(obs_dict) - known)
        if unknown:
            raise ValueError(f"state of {self.owner_id!r}: unknown features {unknown}; it has {sorted(known)}")

    def __len__(self) -> int:
        return len(self.features)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(owner={self.owner_id!r}, level={self.owner_level}, features={[_name(f) for f in self.features]})"


class FieldAgentState(State):
    """A device's state (the earlier ``DeviceState``)."""


class CoordinatorAgentState(State):
    """A coordinator's state (level 2 by default)."""

    def __init__(self, owner_id: str = "", owner_level: int = 2, features: Iterable[Any] | None = None) -> None:
        super().__init__(owner_id, owner_level, features)


def _name(feature: Any) -> str:
    return getattr(feature, "feature_name", None) or type(feature).__name__
