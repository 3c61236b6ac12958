"""The "Complete Workflow" of the event-driven guide, on HERON's thermal-rooms toy env.

Train in synchronous mode, then evaluate the same agents in event-driven mode with observation
and action delays and jitter. The block between the rulers is the guide's snippet, unchanged;
above it are the names the guide leaves to the reader (MyEnv, policy, done).

Run: python examples/event_driven_workflow.py
"""
import numpy as np

from heron.envs.toy import ThermalRoomsEnv, ThermostatPolicy

TARGET = 21.0
ROOM_POLICY = ThermostatPolicy(TARGET, gain=0.1)  # what the rooms run in event-driven mode


class MyEnv(ThermalRoomsEnv):
    """The guide's "MyEnv": three heated rooms under a building controller."""

    def __init__(self):
        super().__init__(n_rooms=3, target=TARGET, room_policy=ROOM_POLICY)

    def reset(self, seed=None, options=None):
        return super().reset(seed=0 if seed is None else seed, options=options)  # same start: fair trials


class GainSearch:
    """A tiny learner: the rooms' proportional gain, improved by hill climbing over windows of
    ``window`` steps. Whatever it learns goes into ``ROOM_POLICY``, which the HERON agents run."""

    def __init__(self, window: int = 12, seed: int = 0) -> None:
        self.window, self.rng = window, np.random.default_rng(seed)
        self.best_gain, self.best_score = ROOM_POLICY.gain, -np.inf
        self.trial_gain, self.score, self.steps = ROOM_POLICY.gain, 0.0, 0

    def compute_actions(self, obs: dict) -> dict:
        return {a: np.clip([self.trial_gain * (TARGET - o[0])], 0.0, 1.0) for a, o in obs.items()}

    def learn(self, obs: dict, rewards: dict) -> None:
        self.score += sum(rewards.values())
        self.steps += 1
        if self.steps == self.window:
            if self.score > self.best_score:
                self.best_gain, self.best_score = self.trial_gain, self.score
                ROOM_POLICY.gain = self.best_gain
            self.trial_gain = max(0.0, self.best_gain + self.rng.normal(0.0, 0.3))
            self.score, self.steps = 0.0, 0


policy = GainSearch()
done = False

# The guide's training loop stops for good after its first step: `done` becomes the dict of
# terminations, which is truthy. So the learning happens here first, over whole episodes
# (a loop that ends on `env.agents`, the PettingZoo way), and the guide's loop adds one step.
trainer_env = MyEnv()
for episode in range(40):
    obs, _ = trainer_env.reset()
    while trainer_env.agents:
        obs, rewards, terminations, truncations, infos = trainer_env.step(policy.compute_actions(obs))
        policy.learn(obs, rewards)

# ---------------------------------------------------------------------------------------------
import numpy as np
from heron.scheduling import ScheduleConfig, JitterType
# 1. Define environment with agents
env = MyEnv()
# 2. Train policy (synchronous mode)
for episode in range(1000):
    obs, _ = env.reset()
    while not done:
        actions = policy.compute_actions(obs)
        obs, rewards, done, _, _ = env.step(actions)
        policy.learn(obs, rewards)
# 3. Evaluate in event-driven mode
env.setup_event_driven()
env.setup_default_handlers(
global_state_fn=lambda: env.get_state(),
on_action_effect=lambda aid, act: env.apply_action(aid, act),
)
# Configure realistic timing
for agent_id, agent in env.registered_agents.items():
    config = ScheduleConfig.with_jitter(
        tick_interval=agent.tick_interval,
        obs_delay=0.1,
        act_delay=0.2,
        jitter_type=JitterType.GAUSSIAN,
        jitter_ratio=0.1,
        seed=42,
    )
    env.scheduler.register_agent(agent_id, schedule_config=config)
# Run evaluation
env.run_event_driven(t_end=3600.0)
print(f"Policy performed with realistic timing!")
# ---------------------------------------------------------------------------------------------
temperatures = [round(r.state["thermal"]["temperature"], 2) for r in env.rooms]
print(f"learned gain {ROOM_POLICY.gain:.2f}; after {env.simulation_time:.0f} s and "
      f"{env.scheduler.processed_count} events the rooms are at {temperatures} °C (target {TARGET})")
