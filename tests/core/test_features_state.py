import numpy as np
import pytest

from heron.core import FeatureProvider, Observation, RandomPolicy, State
from heron.core.action import Action


def make_state():
    return State("gen1", [
        FeatureProvider("power", visibility=["owner", "upper_level"], p_mw=1.0, q_mvar=[0.1, 0.2]),
        FeatureProvider("cost", visibility=["owner"], marginal=40.0),
        FeatureProvider("health", visibility=["system"], temperature=60.0),
        FeatureProvider("price", visibility=["global"], value=50.0),
    ])


def test_each_viewer_sees_only_its_share():
    s = make_state()
    assert list(s.observed_by("owner")) == ["power", "cost", "price"]
    assert list(s.observed_by("coordinator")) == ["power", "price"]
    assert list(s.observed_by("system")) == ["health", "price"]
    assert list(s.observed_by("public")) == ["price"]
    assert list(s.observed_by(("coordinator", "system"))) == ["power", "health", "price"]
    np.testing.assert_array_equal(s.vector("coordinator"), np.array([1.0, 0.1, 0.2, 50.0], np.float32))
    assert s.vector("owner").dtype == np.float32
    assert s.names("coordinator") == ["power.p_mw", "power.q_mvar[0]", "power.q_mvar[1]", "price.value"]


def test_unknown_tags_and_viewers_raise():
    with pytest.raises(ValueError, match="visibility tag 'boss'"):
        FeatureProvider("x", visibility=["boss"], v=1.0)
    with pytest.raises(ValueError, match="viewer 'boss'"):
        make_state().observed_by("boss")


def test_set_values_validates_and_reset_restores():
    s = make_state()
    s.update({"power": {"p_mw": 2.5}})
    assert s["power"]["p_mw"] == 2.5
    with pytest.raises(ValueError, match="no value 'x'"):
        s["power"].set_values(x=1.0)
    with pytest.raises(ValueError, match="shape"):
        s["power"].set_values(q_mvar=[1.0])
    with pytest.raises(ValueError, match="finite"):
        s["power"].set_values(p_mw=np.nan)
    with pytest.raises(ValueError, match="no feature 'nope'"):
        s.update({"nope": {"a": 1}})
    s.reset()
    assert s["power"]["p_mw"] == 1.0


def test_duplicate_feature_rejected():
    s = make_state()
    with pytest.raises(ValueError, match="already has a feature"):
        s.add(FeatureProvider("power", p=0.0))


def test_observation_vector_flattens_in_order():
    obs = Observation({"a": 1.0, "b": {"c": [2.0, 3.0]}}, {"t": 4.0}, timestamp=1.5)
    np.testing.assert_array_equal(obs.vector(), np.array([1, 2, 3, 4], np.float32))
    assert obs.vector().dtype == np.float32
    with pytest.raises(ValueError, match="numbers only"):
        Observation({"name": "x"}).vector()


def test_random_policy_is_seeded_and_in_space():
    space = Action(dim_c=3, range=(0, 2)).space
    p1, p2 = RandomPolicy(space, seed=3), RandomPolicy(space, seed=3)
    for _ in range(10):
        a1, a2 = p1.forward(None), p2.forward(None)
        np.testing.assert_array_equal(a1, a2)
        assert space.contains(a1)
    with pytest.raises(ValueError, match="gymnasium Space"):
        RandomPolicy("box")
