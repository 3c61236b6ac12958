"""The env base by its earlier module path: :class:`HeronEnv` (from :mod:`heron.envs.heron_env`)
and the earlier ``HeronEnvCore``, ``MultiAgentEnv`` and ``BaseEnv`` (from :mod:`heron.compat.envs`)."""
from heron.compat.envs import BaseEnv, HeronEnvCore, MultiAgentEnv
from heron.envs.heron_env import HeronEnv

__all__ = ["BaseEnv", "HeronEnv", "HeronEnvCore", "MultiAgentEnv"]
