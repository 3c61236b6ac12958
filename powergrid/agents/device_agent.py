"""The earlier HERON/PowerGrid's module path of ``DeviceAgent`` (defined in :mod:`powergrid.agents.devices`)."""
from powergrid.agents.devices import DeviceAgent, DeviceState

__all__ = ["DeviceAgent", "DeviceState"]
