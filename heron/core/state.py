"""The earlier ``heron.core.state`` (a re-export of :mod:`heron.compat.state`)."""
from heron.compat.state import CoordinatorAgentState, FieldAgentState, State

__all__ = ["CoordinatorAgentState", "FieldAgentState", "State"]
