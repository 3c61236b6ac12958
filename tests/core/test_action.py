import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from heron.core import Action


def test_continuous_specs_space_and_vector():
    a = Action(dim_c=2, range=([0.0, -5.0], [1.0, 5.0]))
    assert isinstance(a.space, spaces.Box)
    assert a.space is a.space
    assert a.space.shape == (2,)
    a.set_values([0.5, 2.0])
    np.testing.assert_array_equal(a.vector(), [0.5, 2.0])
    np.testing.assert_allclose(a.scale(), [0.0, 0.4])


def test_discrete_and_mixed_spaces():
    assert isinstance(Action(dim_d=1, ncats=[3]).space, spaces.Discrete)
    assert isinstance(Action(dim_d=2, ncats=[3, 4]).space, spaces.MultiDiscrete)
    mixed = Action(dim_c=1, dim_d=1, ncats=5, range=(0, 2))
    assert isinstance(mixed.space, spaces.Dict)
    mixed.set_values([1.5, 3])
    np.testing.assert_array_equal(mixed.c, [1.5])
    np.testing.assert_array_equal(mixed.d, [3])
    mixed.set_values({"c": [0.5], "d": [1]})
    np.testing.assert_array_equal(mixed.vector(), [0.5, 1.0])
    assert mixed.space.contains({"c": np.array([0.5], np.float32), "d": 1})


def test_set_specs_rejects_bad_values():
    with pytest.raises(ValueError, match="ncats"):
        Action(dim_d=2, ncats=[3])
    with pytest.raises(ValueError, match="low must not exceed high"):
        Action(dim_c=1, range=(1.0, 0.0))
    with pytest.raises(ValueError, match="non-negative"):
        Action(dim_c=-1)


def test_bad_action_values_name_owner_and_shape():
    a = Action(dim_c=2, owner="agent 'gen1'")
    with pytest.raises(ValueError, match=r"agent 'gen1'.*shape \(3,\).*expected \(2,\)"):
        a.set_values([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        a.set_values([np.nan, 0.0])
    d = Action(dim_d=1, ncats=3)
    with pytest.raises(ValueError, match="outside"):
        d.set_values([3])
    with pytest.raises(ValueError, match="whole numbers"):
        d.set_values([1.5])


def test_clip_and_sample_are_bounded_and_seeded():
    a = Action(dim_c=3, dim_d=2, ncats=[2, 7], range=(-2.0, 3.0))
    s1 = a.copy().sample(7).vector()
    s2 = a.copy().sample(7).vector()
    np.testing.assert_array_equal(s1, s2)
    for seed in range(50):
        a.sample(seed)
        assert np.all(a.c >= -2.0) and np.all(a.c <= 3.0)
        assert np.all(a.d >= 0) and np.all(a.d < a.ncats)
    a.set_values(c=[10.0, -10.0, 0.0])
    a.clip()
    np.testing.assert_array_equal(a.c, [3.0, -2.0, 0.0])


def test_from_vector_round_trip():
    a = Action(dim_c=2, dim_d=1, ncats=[4], range=(0, 10))
    a.set_values([1.0, 2.0, 3])
    b = Action.from_vector(a.vector(), dim_c=2, dim_d=1, ncats=[4], range=(0, 10))
    assert a == b


def test_degenerate_range_scales_to_zero():
    a = Action(dim_c=2, range=([1.0, 0.0], [1.0, 2.0]))
    a.set_values([1.0, 2.0])
    np.testing.assert_array_equal(a.scale(), [0.0, 1.0])


bounds = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    low=arrays(np.float64, 4, elements=bounds),
    width=arrays(np.float64, 4, elements=st.floats(1e-3, 1e6)),
    u=arrays(np.float64, 4, elements=st.floats(0.0, 1.0)),
)
def test_unscale_scale_round_trip(low, width, u):
    high = low + width
    a = Action(dim_c=4, range=(low, high))
    c = low + u * width
    a.set_values(c=c)
    x = a.scale()
    assert np.all(x >= -1 - 1e-9) and np.all(x <= 1 + 1e-9)
    a.unscale(x)
    np.testing.assert_allclose(a.c, c, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(low).max(), np.abs(high).max()))


@settings(max_examples=200, deadline=None)
@given(
    low=arrays(np.float64, 3, elements=bounds),
    width=arrays(np.float64, 3, elements=st.floats(1e-3, 1e6)),
    x=arrays(np.float64, 3, elements=st.floats(-1.0, 1.0)),
)
def test_scale_unscale_round_trip(low, width, x):
    a = Action(dim_c=3, range=(low, low + width))
    a.unscale(x)
    np.testing.assert_allclose(a.scale(), x, atol=1e-6)
