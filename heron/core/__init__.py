"""Core primitives: actions, observations, visibility-tagged features and state, policies."""
from heron.core.action import Action
from heron.core.features import VIEWERS, FeatureProvider, State, normalize_visibility
from heron.core.observation import Observation
from heron.core.policies import Policy, RandomPolicy

__all__ = ["Action", "FeatureProvider", "Observation", "Policy", "RandomPolicy", "State", "VIEWERS", "normalize_visibility"]
