"""The earlier ``heron.utils`` module paths (re-exports of :mod:`heron.compat.utils`)."""
from heron.compat.utils import AgentID, ProviderRegistry, as_f32, cat_f32, float_if_not_none, one_hot, provider

__all__ = ["AgentID", "ProviderRegistry", "as_f32", "cat_f32", "float_if_not_none", "one_hot", "provider"]
