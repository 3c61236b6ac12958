"""Features with visibility tags, and the State that renders each viewer's share of them.

A viewer is one of four roles relative to the owner of a state: the ``owner`` itself, its
``coordinator`` (the agent one level up), a ``system`` agent, or the ``public`` (anyone).
A feature is shown to a viewer when its tags name that role or ``public``.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["FeatureProvider", "State", "VIEWERS", "normalize_visibility"]

VIEWERS = ("owner", "coordinator", "system", "public")
_ALIASES = {"upper_level": "coordinator", "global": "public"}


def normalize_visibility(tags: Iterable[str] | str, what: str = "visibility tag") -> frozenset[str]:
    """Map aliases (``upper_level``, ``global``) to roles; unknown ones raise ``ValueError``."""
    out = set()
    for tag in (tags,) if isinstance(tags, str) else tags:
        role = _ALIASES.get(tag, tag)
        if role not in VIEWERS:
            raise ValueError(f"unknown {what} {tag!r}; expected one of {VIEWERS + tuple(_ALIASES)}")
        out.add(role)
    return frozenset(out)


def _roles(viewer: str | Iterable[str]) -> frozenset[str]:
    """A viewer is one role (``'owner'``) or several at once (a system agent that is also the
    owner's coordinator sees both shares); ``'public'`` is always included."""
    return normalize_visibility(viewer, "viewer") | {"public"}


class FeatureProvider:
    """A named group of numeric values (scalars or fixed-shape arrays) with visibility tags.

    Subclasses call ``super().__init__(name, visibility, **initial_values)``; ``reset()`` restores
    the initial values. Values are float64 arrays; ``vector()`` returns them flat as float32.
    """

    visibility: frozenset[str] = frozenset({"owner"})

    def __init__(self, name: str, visibility: Iterable[str] | str | None = None, **values: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"feature name must be a non-empty string, got {name!r}")
        self.name = name
        self.visibility = normalize_visibility(visibility if visibility is not None else type(self).visibility)
        self._values: dict[str, np.ndarray] = {}
        for key, value in values.items():
            arr = np.array(value, dtype=np.float64)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"feature {name!r}: value {key!r} must be finite, got {value!r}")
            self._values[key] = arr
        self._initial = {k: v.copy() for k, v in self._values.items()}

    @property
    def dim(self) -> int:
        return sum(v.size for v in self._values.values())

    def visible_to(self, viewer: str | Iterable[str]) -> bool:
        return not self.visibility.isdisjoint(_roles(viewer))

    def names(self) -> list[str]:
        """One label per vector entry, ``feature.key`` or ``feature.key[i]``."""
        out = []
        for key, v in self._values.items():
            if v.ndim == 0:
                out.append(f"{self.name}.{key}")
            else:
                out.extend(f"{self.name}.{key}[{i}]" for i in range(v.size))
        return out

    def vector(self) -> np.ndarray:
        if not self._values:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([v.reshape(-1) for v in self._values.values()]).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Values as Python floats / float arrays (copies)."""
        return {k: (float(v) if v.ndim == 0 else v.copy()) for k, v in self._values.items()}

    def set_values(self, **values: Any) -> None:
        """Update existing values; unknown keys, shape changes and NaN raise ``ValueError``."""
        for key, value in values.items():
            current = self._values.get(key)
            if current is None:
                raise ValueError(f"feature {self.name!r} has no value {key!r}; it has {list(self._values)}")
            arr = np.asarray(value, dtype=np.float64)
            if arr.shape != current.shape:
                raise ValueError(f"feature {self.name!r}: value {key!r} has shape {arr.shape}, expected {current.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"feature {self.name!r}: value {key!r} must be finite, got {value!r}")
            current[...] = arr

    def __getitem__(self, key: str) -> Any:
        v = self._values[key]
        return float(v) if v.ndim == 0 else v

    def reset(self) -> None:
        for key, v in self._initial.items():
            self._values[key][...] = v

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, visibility={sorted(self.visibility)}, {self.to_dict()})"


class State:
    """The features an agent owns, composed in insertion order.

    ``observed_by(viewer)`` gives the dict view and ``vector(viewer)`` the flat float32 view of
    exactly the features that viewer may see; the per-viewer selection is cached.
    """

    def __init__(self, owner_id: str = "", features: Iterable[FeatureProvider] = ()) -> None:
        self.owner_id = owner_id
        self._features: dict[str, FeatureProvider] = {}
        self._visible: dict[Any, tuple[FeatureProvider, ...]] = {}
        for feature in features:
            self.add(feature)

    def add(self, feature: FeatureProvider) -> "State":
        if not isinstance(feature, FeatureProvider):
            raise ValueError(f"State of {self.owner_id!r} takes FeatureProvider objects, got {type(feature).__name__}")
        if feature.name in self._features:
            raise ValueError(f"State of {self.owner_id!r} already has a feature named {feature.name!r}")
        self._features[feature.name] = feature
        self._visible.clear()
        return self

    @property
    def features(self) -> list[FeatureProvider]:
        """The features in order (a new list; ``state[name]`` finds one by name)."""
        return list(self._features.values())

    @features.setter
    def features(self, features: Iterable[FeatureProvider]) -> None:
        """Replace the features (the earlier ``state.features = [...]``)."""
        self._features = {}
        self._visible.clear()
        for feature in features:
            self.add(feature)

    def __getitem__(self, name: str) -> FeatureProvider:
        return self._features[name]

    def __contains__(self, name: str) -> bool:
        return name in self._features

    def __len__(self) -> int:
        return len(self._features)

    def visible(self, viewer: str | Iterable[str] = "owner") -> tuple[FeatureProvider, ...]:
        key = viewer if isinstance(viewer, str) else frozenset(viewer)
        cached = self._visible.get(key)
        if cached is None:
            roles = _roles(viewer)
            cached = self._visible[key] = tuple(f for f in self._features.values() if f.visible_to(roles))
        return cached

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Every feature's values by feature name (what a user prints of a device's state)."""
        return {name: feature.to_dict() for name, feature in self._features.items()}

    def observed_by(self, viewer: str | Iterable[str] = "owner") -> dict[str, dict[str, Any]]:
        """``{feature name: {key: value}}`` for the features ``viewer`` may see."""
        return {f.name: f.to_dict() for f in self.visible(viewer)}

    def vector(self, viewer: str | Iterable[str] = "owner") -> np.ndarray:
        parts = [f.vector() for f in self.visible(viewer)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def names(self, viewer: str | Iterable[str] = "owner") -> list[str]:
        return [n for f in self.visible(viewer) for n in f.names()]

    def update(self, values: Mapping[str, Mapping[str, Any]]) -> None:
        """``{feature name: {key: value}}``; unknown features raise ``ValueError``."""
        for name, kv in values.items():
            feature = self._features.get(name)
            if feature is None:
                raise ValueError(f"State of {self.owner_id!r} has no feature {name!r}; it has {list(self._features)}")
            feature.set_values(**kv)

    def reset(self) -> None:
        for feature in self._features.values():
            feature.reset()
