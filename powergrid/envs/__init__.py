"""PowerGrid environments."""
from powergrid.envs.batched import BatchedMicrogrids, MicrogridsVectorEnv
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.envs.networked_grid_env import NetworkedGridEnv
from powergrid.envs.wrappers import MultiAgentToSingleAgent

__all__ = ["BatchedMicrogrids", "MicrogridsVectorEnv", "MultiAgentMicrogrids", "MultiAgentToSingleAgent", "NetworkedGridEnv"]
