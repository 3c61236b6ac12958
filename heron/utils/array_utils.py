"""The earlier ``heron.utils.array_utils`` (re-exports of :mod:`heron.compat.utils`)."""
from heron.compat.utils import as_f32, cat_f32, one_hot

__all__ = ["as_f32", "cat_f32", "one_hot"]
