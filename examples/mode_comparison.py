"""The execution-modes guide's "Mode Comparison", verbatim, on the default PowerGrid setup.

Run: python examples/mode_comparison.py
"""
from powergrid.envs import MultiAgentMicrogrids

# ---------------------------------------------------------------------------------------------
import time

# Centralized training
env_centralized = MultiAgentMicrogrids({"centralized": True})
start = time.time()
for _ in range(1000):
    obs, _ = env_centralized.reset()
    for _ in range(24):
        actions = {a: env_centralized.action_spaces[a].sample() for a in env_centralized.agents}
        env_centralized.step(actions)
print(f"Centralized: {time.time() - start:.2f}s")

# Distributed evaluation
env_distributed = MultiAgentMicrogrids({"centralized": False})
start = time.time()
for _ in range(100):  # Fewer iterations due to overhead
    obs, _ = env_distributed.reset()
    for _ in range(24):
        actions = {a: env_distributed.action_spaces[a].sample() for a in env_distributed.agents}
        env_distributed.step(actions)
print(f"Distributed: {time.time() - start:.2f}s")
# ---------------------------------------------------------------------------------------------
print("(the guide's loops run 1000 centralized episodes and 100 distributed ones: compare per episode, "
      "or see benchmarks/interleaved.py for step times measured side by side)")
