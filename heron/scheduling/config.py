"""Per-agent timing: tick interval, observation/action/message delays and their jitter."""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import numpy as np

from heron.core.checks import is_finite_number

__all__ = ["JitterType", "ScheduleConfig", "TickConfig", "MIN_INTERVAL_FRACTION", "resolve_timing"]

#: A jittered tick interval never falls below this fraction of its base (keeps time moving).
MIN_INTERVAL_FRACTION = 1e-3


class JitterType(enum.IntEnum):
    NONE = 0
    UNIFORM = 1  # base ± ratio·base
    GAUSSIAN = 2  # normal with std = ratio·base


@dataclass(frozen=True)
class ScheduleConfig:
    """Timing of one agent. Jitter draws come from a generator seeded with ``seed``.

    Floors: a jittered delay is at least ``min_delay``; a jittered tick interval is at least
    ``max(min_delay, MIN_INTERVAL_FRACTION * tick_interval)``, so time always advances.
    """

    tick_interval: float = 1.0
    obs_delay: float = 0.0
    act_delay: float = 0.0
    msg_delay: float = 0.0
    jitter_type: JitterType = JitterType.NONE
    jitter_ratio: float = 0.0
    min_delay: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "jitter_type", _coerce_jitter(self.jitter_type))
        if not (is_finite_number(self.tick_interval) and self.tick_interval > 0):
            raise ValueError(f"tick_interval must be a positive number of seconds, got {self.tick_interval!r}")
        seed = self.seed
        if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        for name in ("obs_delay", "act_delay", "msg_delay", "min_delay", "jitter_ratio"):
            value = getattr(self, name)
            if not (is_finite_number(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.jitter_type == JitterType.UNIFORM and self.jitter_ratio > 1:
            raise ValueError(f"uniform jitter_ratio must be <= 1 (base ± ratio·base), got {self.jitter_ratio!r}")

    @classmethod
    def with_jitter(
        cls,
        tick_interval: float = 1.0,
        obs_delay: float = 0.0,
        act_delay: float = 0.0,
        msg_delay: float = 0.0,
        jitter_type: JitterType | str = JitterType.GAUSSIAN,
        jitter_ratio: float = 0.1,
        min_delay: float = 0.0,
        seed: int | None = None,
    ) -> "ScheduleConfig":
        """Timing with variability (gaussian 10% by default)."""
        return cls(tick_interval, obs_delay, act_delay, msg_delay, _coerce_jitter(jitter_type), jitter_ratio, min_delay, seed)

    @classmethod
    def deterministic(
        cls, tick_interval: float = 1.0, obs_delay: float = 0.0, act_delay: float = 0.0, msg_delay: float = 0.0
    ) -> "ScheduleConfig":
        """Exact timing, for training and debugging."""
        return cls(tick_interval, obs_delay, act_delay, msg_delay, JitterType.NONE, 0.0, 0.0, None)

    def replace(self, **changes: object) -> "ScheduleConfig":
        return replace(self, **changes)

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def jittered(self, base: float, rng: np.random.Generator, floor: float | None = None) -> float:
        """One draw of ``base`` under this config's jitter, bounded below by ``floor`` (default ``min_delay``)."""
        floor = self.min_delay if floor is None else floor
        if self.jitter_type == JitterType.NONE or self.jitter_ratio == 0.0 or base == 0.0:
            value = base
        elif self.jitter_type == JitterType.UNIFORM:
            value = base + self.jitter_ratio * base * rng.uniform(-1.0, 1.0)
        else:
            value = base + self.jitter_ratio * base * rng.standard_normal()
        return max(value, floor)

    @property
    def interval_floor(self) -> float:
        return max(self.min_delay, MIN_INTERVAL_FRACTION * self.tick_interval)


TickConfig = ScheduleConfig


def resolve_timing(
    agent_id: str,
    schedule_config: ScheduleConfig | None,
    default_tick_interval: float = 1.0,
    **timing: float | None,
) -> ScheduleConfig:
    """An agent's timing, given either as one ``schedule_config`` or as keywords
    (``tick_interval``, ``obs_delay``, ``act_delay``, ``msg_delay``; None = not given), not both."""
    explicit = {k: v for k, v in timing.items() if v is not None}
    if schedule_config is None:
        explicit.setdefault("tick_interval", default_tick_interval)
        return ScheduleConfig(**explicit)
    if explicit:
        raise ValueError(f"agent {agent_id!r}: give timing either as schedule_config or as {sorted(explicit)}, not both")
    if not isinstance(schedule_config, ScheduleConfig):
        raise ValueError(f"agent {agent_id!r}: schedule_config must be a ScheduleConfig, got {schedule_config!r}")
    return schedule_config


def _coerce_jitter(value: JitterType | str | int) -> JitterType:
    if isinstance(value, JitterType):
        return value
    if isinstance(value, str) and value.upper() in JitterType.__members__:
        return JitterType[value.upper()]
    if isinstance(value, (int, np.integer)) and int(value) in JitterType._value2member_map_:
        return JitterType(int(value))
    raise ValueError(f"unknown jitter_type {value!r}; expected one of {[m.name for m in JitterType]}")
