"""Timing of agents in event-driven execution."""
from heron.scheduling.config import JitterType, ScheduleConfig, TickConfig

__all__ = ["JitterType", "ScheduleConfig", "TickConfig"]
