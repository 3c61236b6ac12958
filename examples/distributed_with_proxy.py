"""Distributed mode with proxies (the guide's example 6) on the default PowerGrid setup.

Part 1 is the guide's code: a distributed env on an in-memory broker. Part 2 drives microgrid
MG1 through a Proxy by hand, the way a deployed controller would see it: a setpoint arrives on
its action channel, it splits it into device setpoints, the devices report back, and every
message is consumed. Part 3 runs whole episodes in distributed mode and checks, step by step,
that they match centralized mode.

Run: python examples/distributed_with_proxy.py
"""
import asyncio

import numpy as np

# ---------------------------------------------------------------------------------------------
from heron.messaging.memory import InMemoryBroker
from heron.agents import Proxy
from powergrid.envs import MultiAgentMicrogrids
# Create message broker
broker = InMemoryBroker()
# Configure distributed mode
env_config = {
"centralized": False, # Enable distributed mode
"message_broker": broker,
"max_episode_steps": 24,
}
env = MultiAgentMicrogrids(env_config)
# ---------------------------------------------------------------------------------------------
from heron.messaging import ChannelManager, Message, MessageType
from powergrid.agents import GridAgent, Generator, ESS

# 2. One controller by hand: a fresh MG1 controller over the env's device fleets.
gen, ess = (Generator("gen", env.generators, 0), ESS("ess", env.storage, 0))
grid_agent = GridAgent("MG1_by_hand", devices=[gen, ess], upstream_id="system_operator", env_id="demo")
hand_broker = InMemoryBroker()
proxy = Proxy(agent_id="mg1_proxy", actual_agent=grid_agent, broker=hand_broker, upstream_id="system_operator")
device_proxies = [Proxy(f"{d.agent_id}_proxy", d, hand_broker) for d in (gen, ess)]
setpoint = np.array([0.2, 0.05, -0.1])  # generator P and Q, storage P
hand_broker.publish(ChannelManager.action_channel("system_operator", grid_agent.agent_id, "demo"),
                    Message("demo", "system_operator", grid_agent.agent_id, 0.0, MessageType.ACTION, {"setpoint": setpoint}))


async def one_round():
    await proxy.step_distributed()           # MG1 splits its setpoint into device setpoints
    for device_proxy in device_proxies:      # each device executes its own and reports
        await device_proxy.step_distributed()


asyncio.run(one_round())
proxy.refresh_network_state()
print(f"generator now at {env.generators.p[0]:.2f} MW / {env.generators.q[0]:.2f} Mvar, "
      f"storage at {env.storage.p[0]:.2f} MW; reports from {sorted(proxy.reports)}")
report = hand_broker.consume(proxy.report_channel, "system_operator", "demo")[0].payload
print(f"MG1 reported its action {report['action']} upstream")
hand_broker.consume(ChannelManager.state_update_channel("demo"), "environment", "demo")
assert hand_broker.pending_count() == 0

# 3. Whole episodes: distributed mode matches centralized mode step by step.
central = MultiAgentMicrogrids({"centralized": True})
rng = np.random.default_rng(0)
worst = 0.0
for episode in range(3):
    central.reset(seed=episode)
    env.reset(seed=episode)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        _, r_central, *_ = central.step(actions)
        _, r_distributed, *_ = env.step(actions)
        worst = max(worst, max(abs(r_central[a] - r_distributed[a]) for a in actions))
print(f"3 episodes: largest reward difference between the modes {worst:.2e}; broker holds {broker.pending_count()} messages")
