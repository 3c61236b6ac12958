"""The earlier ``heron.scheduling.event`` (a re-export of :mod:`heron.compat.scheduling`)."""
from heron.compat.scheduling import Event, EventType

__all__ = ["Event", "EventType"]
