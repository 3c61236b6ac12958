"""Environments: the PettingZoo base with the event-driven API, and a small reference env."""
from heron.envs.heron_env import HeronEnv
from heron.envs.toy import ThermalRoomsEnv

__all__ = ["HeronEnv", "ThermalRoomsEnv"]
