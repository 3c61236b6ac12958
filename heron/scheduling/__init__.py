"""Event-driven timing: per-agent schedules with jitter, and the Numba-backed event scheduler."""
from heron.scheduling.config import JitterType, ScheduleConfig, TickConfig
from heron.scheduling.events import DEFAULT_PRIORITY, Event, EventType
from heron.scheduling.scheduler import Delivery, EventHandlerError, EventScheduler

__all__ = [
    "DEFAULT_PRIORITY", "Delivery", "Event", "EventHandlerError", "EventScheduler", "EventType", "JitterType",
    "ScheduleConfig", "TickConfig",
]
