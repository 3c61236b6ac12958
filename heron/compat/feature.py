"""Features written as dataclasses, the earlier HERON's way (``heron.core.feature`` re-exports this).

The earlier package declared a feature as a ``@dataclass`` subclass of ``FeatureProvider``: its
fields are its values, and it writes its own ``vector``, ``names``, ``to_dict`` and
``set_values``. Such a class joins a :class:`~heron.core.features.State` like any feature of
ours: its name is its class name, its numeric fields are its values (read and written as
``state.<field>`` through a device state), and, as in the earlier state vector, a feature that
names no viewers is seen by every viewer of its state.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import numpy as np

from heron.core.features import FeatureProvider as _Feature
from heron.core.features import normalize_visibility

__all__ = ["FeatureProvider"]


class FeatureProvider(_Feature):
    """Base of a feature written as a dataclass (see the module doc). Its ``__init__`` is the
    dataclass's; nothing of the base's constructor runs."""

    visibility: Any = ()  # no viewers named: seen by all who see the state (the earlier behaviour)

    def __init__(self) -> None:
        """A feature class with no fields of its own (a dataclass subclass has its own ``__init__``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.feature_name = cls.__dict__.get("feature_name", cls.__name__)

    @property  # type: ignore[override]
    def name(self) -> str:
        """``feature_name``: the class's own, its class name, or one set on the instance."""
        return self.feature_name

    @property
    def _values(self) -> dict[str, np.ndarray]:  # type: ignore[override]
        """The numeric fields, as the base class keeps its values (read-only views)."""
        out = {}
        for f in dataclasses.fields(self) if dataclasses.is_dataclass(self) else ():
            value = getattr(self, f.name)
            if isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(value, bool):
                out[f.name] = np.asarray(value, dtype=np.float64)
        return out

    def visible_to(self, viewer: str | Iterable[str]) -> bool:
        tags = self.visibility
        if not tags:
            return True
        return not normalize_visibility(tags).isdisjoint(normalize_visibility(viewer, "viewer") | {"public"})

    def is_observable_by(self, requestor_id: str, requestor_level: int, owner_id: str, owner_level: int) -> bool:
        """The earlier package's rule, by ids and hierarchy levels (1 field, 2 coordinator, 3
        system): public to all, owner to its owner, system to level >= 3, upper_level to one
        level above the owner; a feature naming no viewers is seen by none of them."""
        tags = set(self.visibility or ())
        return ("public" in tags or ("owner" in tags and requestor_id == owner_id)
                or ("system" in tags and requestor_level >= 3) or ("upper_level" in tags and requestor_level == owner_level + 1))

    def vector(self) -> np.ndarray:
        values = self._values
        return np.concatenate([v.reshape(-1) for v in values.values()]).astype(np.float32) if values else np.zeros(0, np.float32)

    def names(self) -> list[str]:
        return [key if v.ndim == 0 else f"{key}[{i}]" for key, v in self._values.items() for i in range(v.size)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureProvider":
        return cls(**d)

    def set_values(self, **values: Any) -> None:
        """Set existing fields; an unknown one or a NaN raises ``ValueError`` naming it."""
        known = {f.name for f in dataclasses.fields(self)} if dataclasses.is_dataclass(self) else set()
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"feature {self.name!r} has no field {key!r}; it has {sorted(known)}")
            if isinstance(value, (int, float, np.number)) and not np.isfinite(value):
                raise ValueError(f"feature {self.name!r}: {key} must be finite, got {value!r}")
            setattr(self, key, value)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def reset(self, **overrides: Any) -> "FeatureProvider":
        """The earlier features reset themselves where they had a neutral state; this keeps the
        values and applies ``overrides``."""
        if overrides:
            self.set_values(**overrides)
        return self
