"""PowerGrid environments."""
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.envs.networked_grid_env import NetworkedGridEnv

__all__ = ["MultiAgentMicrogrids", "NetworkedGridEnv"]
