"""The earlier HERON/PowerGrid's module path of ``DeviceState`` (defined in :mod:`powergrid.agents.devices`)
and of ``GridState`` (the earlier coordinator state, :class:`heron.core.state.CoordinatorAgentState`)."""
from heron.core.state import CoordinatorAgentState as GridState
from powergrid.agents.devices import DeviceState

__all__ = ["DeviceState", "GridState"]
