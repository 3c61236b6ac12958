"""The earlier ``heron.core.feature`` (a re-export of :mod:`heron.compat.feature`)."""
from heron.compat.feature import FeatureProvider

__all__ = ["FeatureProvider"]
