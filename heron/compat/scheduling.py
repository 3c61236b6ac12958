"""The earlier ``heron.scheduling.event`` and ``tick_config``: an event record with the earlier
defaults, and a timing config that carries its own random stream.

This package's :class:`~heron.scheduling.config.ScheduleConfig` is a frozen value and the
scheduler draws the jitter; the earlier ``TickConfig`` drew its own (``get_obs_delay()``...).
Both are given to the scheduler the same way: a ``TickConfig`` hands it its ``schedule_config``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from heron.core.checks import is_finite_number
from heron.scheduling.config import JitterType, ScheduleConfig
from heron.scheduling.events import Event as _Event
from heron.scheduling.events import EventType

__all__ = ["Event", "EventType", "JitterType", "TickConfig"]

#: The earlier floor of a jittered tick interval (s).
MIN_TICK_INTERVAL = 1e-3


class Event(_Event):
    """An event with the earlier defaults: an agent tick at priority 0, sequence 0, an empty
    payload dict. Events compare by (timestamp, priority, sequence) only."""

    __slots__ = ()

    def __init__(self, timestamp: float, priority: int = 0, sequence: int = 0, event_type: EventType = EventType.AGENT_TICK,
                 agent_id: str | None = None, payload: Any = None) -> None:
        super().__init__(timestamp, event_type, agent_id, {} if payload is None else payload, priority, sequence)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Event) and self.sort_key() == other.sort_key()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return (f"Event(t={self.timestamp:.3f}, {EventType(self.event_type).name.lower()}, agent={self.agent_id}, "
                f"prio={self.priority}, seq={self.sequence})")


class TickConfig:
    """One agent's timing with its own random stream (``rng``: None without jitter or seed).

    ``get_tick_interval()`` and ``get_*_delay()`` draw from it; ``seed(s)`` restarts it.
    """

    def __init__(self, tick_interval: float = 1.0, obs_delay: float = 0.0, act_delay: float = 0.0, msg_delay: float = 0.0,
                 jitter_type: JitterType | str = JitterType.NONE, jitter_ratio: float = 0.1, min_delay: float = 0.0,
                 rng: np.random.Generator | None = None) -> None:
        if not (is_finite_number(tick_interval) and tick_interval > 0):
            raise ValueError(f"tick_interval must be positive, got {tick_interval!r}")
        for name, value in (("obs_delay", obs_delay), ("act_delay", act_delay), ("msg_delay", msg_delay),
                            ("jitter_ratio", jitter_ratio), ("min_delay", min_delay)):
            if not (is_finite_number(value) and value >= 0):
                raise ValueError(f"{name} must be non-negative, got {value!r}")
        self.tick_interval, self.obs_delay, self.act_delay, self.msg_delay = tick_interval, obs_delay, act_delay, msg_delay
        self.jitter_ratio, self.min_delay, self.rng = jitter_ratio, min_delay, rng
        self._seed: int | None = None
        self.schedule_config = ScheduleConfig(tick_interval, obs_delay, act_delay, msg_delay, jitter_type,
                                              jitter_ratio, min_delay)
        self.jitter_type = self.schedule_config.jitter_type

    @classmethod
    def deterministic(cls, tick_interval: float = 1.0, obs_delay: float = 0.0, act_delay: float = 0.0,
                      msg_delay: float = 0.0) -> "TickConfig":
        return cls(tick_interval, obs_delay, act_delay, msg_delay, JitterType.NONE)

    @classmethod
    def with_jitter(cls, tick_interval: float = 1.0, obs_delay: float = 0.0, act_delay: float = 0.0, msg_delay: float = 0.0,
                    jitter_type: JitterType | str = JitterType.GAUSSIAN, jitter_ratio: float = 0.1, min_delay: float = 0.0,
                    seed: int | None = None) -> "TickConfig":
        config = cls(tick_interval, obs_delay, act_delay, msg_delay, jitter_type, jitter_ratio, min_delay)
        config.seed(seed)
        return config

    def seed(self, seed: int | None = None) -> None:
        """Restart the random stream from ``seed``; the scheduler seeds this agent with it too."""
        self._seed = seed
        self.rng = np.random.default_rng(seed)
        self.schedule_config = self.schedule_config.replace(seed=seed)

    def _draw(self, base: float, floor: float) -> float:
        if self.rng is None:
            return base if self.jitter_type == JitterType.NONE or base == 0.0 else max(base, floor)
        return self.schedule_config.jittered(base, self.rng, floor)

    def get_tick_interval(self) -> float:
        return self._draw(self.tick_interval, max(self.min_delay, MIN_TICK_INTERVAL))

    def get_obs_delay(self) -> float:
        return self._draw(self.obs_delay, self.min_delay)

    def get_act_delay(self) -> float:
        return self._draw(self.act_delay, self.min_delay)

    def get_msg_delay(self) -> float:
        return self._draw(self.msg_delay, self.min_delay)

    def __repr__(self) -> str:
        return (f"TickConfig(tick={self.tick_interval}, obs={self.obs_delay}, act={self.act_delay}, msg={self.msg_delay}, "
                f"jitter={self.jitter_type.name}({self.jitter_ratio}))")
