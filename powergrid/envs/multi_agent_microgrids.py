"""MultiAgentMicrogrids: the networked-microgrids environment users know by this name.

It is :class:`NetworkedGridEnv` with its default model: with no config, the embedded setup
``ieee34_ieee13`` (an IEEE 34-bus operator network with three IEEE 13-bus microgrids MG1..MG3,
each with a generator, a storage unit, a PV plant and a wind turbine). See that class for the
config keys, the cost and safety terms and the two execution modes.
"""
from __future__ import annotations

from powergrid.envs.networked_grid_env import NetworkedGridEnv, overload, voltage_violation

__all__ = ["MultiAgentMicrogrids", "voltage_violation", "overload"]


class MultiAgentMicrogrids(NetworkedGridEnv):
    metadata = {"name": "multi_agent_microgrids_v0", "render_modes": ["rgb_array", "human"]}
