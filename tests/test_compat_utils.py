"""The earlier heron.utils paths: what code written against them relies on."""
import numpy as np

from heron.utils.array_utils import as_f32, cat_f32, one_hot
from heron.utils.registry import ProviderRegistry, provider
from heron.utils.typing import AgentID, float_if_not_none


def test_array_helpers_are_float32_and_one_hot_clips_into_range():
    assert cat_f32([np.array([1, 2]), np.array([3.5])]).dtype == np.float32
    np.testing.assert_array_equal(cat_f32([np.array([1, 2]), np.array([3.5])]), [1.0, 2.0, 3.5])
    assert cat_f32([]).shape == (0,) and cat_f32([]).dtype == np.float32
    assert isinstance(as_f32(2), np.float32)
    np.testing.assert_array_equal(one_hot(-3, 3), [1, 0, 0])
    np.testing.assert_array_equal(one_hot(7, 3), [0, 0, 1])
    assert one_hot(0, 0).shape == (0,)


def test_typing_and_registry():
    assert AgentID is str and float_if_not_none(None) is None and float_if_not_none("2.5") == 2.5
    saved = ProviderRegistry.all()
    try:
        @provider("solar-like")
        class Solar:
            pass

        @provider()
        class Wind:
            pass

        assert ProviderRegistry.get("solar-like") is Solar and ProviderRegistry.get("Wind") is Wind
        assert ProviderRegistry.get("nothing") is None
    finally:
        ProviderRegistry._types.clear()
        ProviderRegistry._types.update(saved)
