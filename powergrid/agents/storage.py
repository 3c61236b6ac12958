"""The earlier HERON/PowerGrid's module path of ``ESS`` (defined in :mod:`powergrid.agents.devices`)."""
from powergrid.agents.devices import ESS, Storage

__all__ = ["ESS", "Storage"]
