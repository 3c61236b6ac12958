"""The earlier ``heron.scheduling.tick_config`` (a re-export of :mod:`heron.compat.scheduling`)."""
from heron.compat.scheduling import JitterType, TickConfig

__all__ = ["JitterType", "TickConfig"]
