"""``StatusBlock``: a device's operating status, as the earlier package named it.

Service flags, a state from a fixed vocabulary (optionally observed one-hot or as an index),
the time spent in it and the progress toward the next. Fields left ``None`` are not observed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from heron.core.feature import FeatureProvider

__all__ = ["StatusBlock"]


@dataclass
class StatusBlock(FeatureProvider):
    visibility: list = field(default_factory=lambda: ["owner"])
    in_service: Optional[bool] = None
    out_service: Optional[bool] = None
    state: Optional[str] = None
    states_vocab: Optional[list] = None
    t_in_state_s: Optional[float] = None
    t_to_next_s: Optional[float] = None
    progress_frac: Optional[float] = None
    emit_state_one_hot: bool = False
    emit_state_index: bool = False

    def __post_init__(self) -> None:
        vocab = list(self.states_vocab or [])
        if len(set(vocab)) != len(vocab):
            raise ValueError(f"StatusBlock: states_vocab has duplicates: {vocab}")
        self.states_vocab = vocab or None
        if self.state is not None and vocab and self.state not in vocab:
            raise ValueError(f"StatusBlock: state {self.state!r} is not in states_vocab {vocab}")
        if (self.emit_state_one_hot or self.emit_state_index) and (self.state is None or not vocab):
            raise ValueError("StatusBlock: observing the state needs a state and its states_vocab")
        for key in ("t_in_state_s", "t_to_next_s"):
            value = getattr(self, key)
            if value is not None and not (np.isfinite(value) and value >= 0):
                raise ValueError(f"StatusBlock: {key} must be a finite number >= 0, got {value!r}")
        if self.progress_frac is not None and not 0.0 <= self.progress_frac <= 1.0:
            raise ValueError(f"StatusBlock: progress_frac must be in [0, 1], got {self.progress_frac!r}")

    def _entries(self) -> list[tuple[str, float]]:
        out = [(key, float(bool(getattr(self, key)))) for key in ("in_service", "out_service") if getattr(self, key) is not None]
        if self.emit_state_one_hot:
            out += [(f"state_{token}", float(token == self.state)) for token in self.states_vocab or ()]
        if self.emit_state_index:
            out.append(("state_idx", float(self.states_vocab.index(self.state))))
        out += [(key, float(getattr(self, key))) for key in ("t_in_state_s", "t_to_next_s", "progress_frac")
                if getattr(self, key) is not None]
        return out

    def vector(self) -> np.ndarray:
        return np.array([v for _, v in self._entries()], dtype=np.float32)

    def names(self) -> list[str]:
        return [k for k, _ in self._entries()]

    def set_values(self, **values: Any) -> None:
        super().set_values(**values)
        self.__post_init__()
