"""The earlier ``heron.utils.registry`` (re-exports of :mod:`heron.compat.utils`)."""
from heron.compat.utils import ProviderRegistry, provider

__all__ = ["ProviderRegistry", "provider"]
