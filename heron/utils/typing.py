"""The earlier ``heron.utils.typing`` (re-exports of :mod:`heron.compat.utils`)."""
from heron.compat.utils import AgentID, float_if_not_none

__all__ = ["AgentID", "float_if_not_none"]
