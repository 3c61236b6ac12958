"""Event types and the event record handed to Python handlers."""
from __future__ import annotations

import enum
from typing import Any

__all__ = ["EventType", "Event", "DEFAULT_PRIORITY"]


class EventType(enum.IntEnum):
    AGENT_TICK = 0
    ACTION_EFFECT = 1
    MESSAGE_DELIVERY = 2
    OBSERVATION_READY = 3
    ENV_UPDATE = 4
    CUSTOM = 5


#: At equal times, lower runs first: actions land, the env updates, messages arrive,
#: observations complete, and only then do agents tick.
DEFAULT_PRIORITY = {
    EventType.ACTION_EFFECT: 0,
    EventType.ENV_UPDATE: 1,
    EventType.MESSAGE_DELIVERY: 2,
    EventType.OBSERVATION_READY: 3,
    EventType.AGENT_TICK: 4,
    EventType.CUSTOM: 5,
}


class Event:
    """One scheduled occurrence. ``sequence`` is assigned by the scheduler and breaks ties."""

    __slots__ = ("timestamp", "event_type", "agent_id", "priority", "sequence", "payload")

    def __init__(
        self,
        timestamp: float,
        event_type: EventType,
        agent_id: str | None = None,
        payload: Any = None,
        priority: int | None = None,
        sequence: int = -1,
    ) -> None:
        self.timestamp = timestamp
        self.event_type = event_type
        self.agent_id = agent_id
        self.payload = payload
        self.priority = priority
        self.sequence = sequence

    def sort_key(self) -> tuple[float, int, int]:
        return (self.timestamp, self.priority if self.priority is not None else DEFAULT_PRIORITY[self.event_type], self.sequence)

    def __lt__(self, other: "Event") -> bool:
        return self.sort_key() < other.sort_key()

    def __repr__(self) -> str:
        return (f"Event(t={self.timestamp!r}, {EventType(self.event_type).name}, agent={self.agent_id!r}, "
                f"priority={self.priority}, seq={self.sequence}, payload={self.payload!r})")
