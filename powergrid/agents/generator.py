"""The earlier HERON/PowerGrid's module path of ``Generator`` (defined in :mod:`powergrid.agents.devices`)."""
from powergrid.agents.devices import Generator

__all__ = ["Generator"]
