"""The earlier HERON/PowerGrid's module path of ``DeviceState`` (defined in :mod:`powergrid.agents.devices`)."""
from powergrid.agents.devices import DeviceState

__all__ = ["DeviceState"]
