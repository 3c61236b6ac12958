"""PowerGrid environments (``parallel_env``/``env``: PettingZoo's factories; importing this package
registers ``gymnasium.make("powergrid/MultiAgentMicrogrids-single-v0")``)."""
from powergrid.envs.batched import BatchedMicrogrids, MicrogridsVectorEnv
from powergrid.envs.factories import SINGLE_AGENT_ID, env, parallel_env, single_agent_env
from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.envs.networked_grid_env import NetworkedGridEnv
from powergrid.envs.wrappers import MultiAgentToSingleAgent

__all__ = ["BatchedMicrogrids", "MicrogridsVectorEnv", "MultiAgentMicrogrids", "MultiAgentToSingleAgent", "NetworkedGridEnv",
           "SINGLE_AGENT_ID", "env", "parallel_env", "single_agent_env"]
