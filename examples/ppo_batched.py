"""PPO on the batched env, and an exploit hunt: does the trained policy beat the optimum?

One agent controls all three microgrids of a setup (``--setup``, by default ``ieee34_ieee13``, the
task ``load_setup`` gives: 96-hour episodes, shared reward; ``MicrogridsVectorEnv``: the
observations side by side, the actions side by side, the rewards summed) and is trained with
PPO for a fixed budget of env steps on the train split. It is then evaluated on the first test
days, day by day, against the baselines of ``powergrid.baselines``, and scored as the share of
the optimum's gain over doing nothing it reaches (``powergrid.baselines.score``). A policy above the
perfect-foresight optimum on any day has found a way to earn what the physics would not
allow: the script says so and exits with status 1.

Two choices let it learn within minutes: its output 0 is the passive action (``ActionMap``), and
it learns from each step's gain over a passive twin of the batch on the same days (what the
hour would have cost anyway does not depend on the policy, so the optimum is unchanged and
most of the reward's noise is gone; ``--absolute-reward`` turns the twin off). Without either
(output 0 = idle, the env's reward), 1.5 million steps left it below doing nothing.

    pip install -e ".[rl]"        # torch, matplotlib
    python examples/ppo_batched.py --save ppo.pt     # 1 million steps: ~7 minutes on two cores

Written top to bottom in the manner of CleanRL: hyperparameters, the network, the rollout,
the update, the evaluation, the plot.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from powergrid.baselines import REFERENCE, do_nothing, format_table, normalised, play_day, run_baselines, task_config
from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.batched import MicrogridsVectorEnv


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--total-steps", type=int, default=1_000_000, help="env steps of training (all copies)")
    p.add_argument("--num-envs", type=int, default=64, help="copies stepped in lockstep")
    p.add_argument("--rollout", type=int, default=24, help="steps per copy per update (one day)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--minibatches", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--clip", type=float, default=0.2)
    p.add_argument("--entropy", type=float, default=0.0)
    p.add_argument("--reward-scale", type=float, default=1.0, help="multiplies the (relative) rewards PPO learns from")
    p.add_argument("--absolute-reward", action="store_true",
                   help="learn from the env's reward itself, not from its gain over a passive twin")
    p.add_argument("--eval-days", type=int, default=20, help="test days of the evaluations (ten during training)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--setup", default="ieee34_ieee13", help="the setup trained and tested on (default ieee34_ieee13)")
    p.add_argument("--plot", default="ppo_batched.png", help="where to write the learning curve (PNG)")
    p.add_argument("--save", default=None, help="where to save the trained policy (a torch file: weights and normaliser)")
    p.add_argument("--tensorboard", default="runs", help="TensorBoard log folder, when tensorboard is installed")
    return p.parse_args(argv)


class RunningNorm:
    """Observation normalisation: the features differ in scale (prices ~50 $/MWh, voltages ~1 pu)."""

    def __init__(self, dim: int) -> None:
        self.mean, self.var, self.count = np.zeros(dim), np.ones(dim), 1e-4

    def update(self, x: np.ndarray) -> None:
        mean, var, n = x.mean(0), x.var(0), len(x)
        delta, total = mean - self.mean, self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + var * n + delta ** 2 * self.count * n / total) / total
        self.count = total

    def __call__(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.clip((x - self.mean) / np.sqrt(self.var + 1e-8), -10, 10), dtype=torch.float32)


def layer(n_in: int, n_out: int, std: float = np.sqrt(2)) -> nn.Linear:
    linear = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(linear.weight, std)
    nn.init.zeros_(linear.bias)
    return linear


class Agent(nn.Module):
    """Gaussian policy per action entry (``ActionMap`` maps it onto the devices' commands), and a critic."""

    def __init__(self, obs_dim: int, act_dim: int) -> None:
        super().__init__()
        self.critic = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, 1, 1.0))
        self.actor = nn.Sequential(layer(obs_dim, 64), nn.Tanh(), layer(64, 64), nn.Tanh(), layer(64, act_dim, 0.01))
        self.log_std = nn.Parameter(torch.full((act_dim,), -1.0))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def act(self, obs: torch.Tensor, action: torch.Tensor | None = None):
        dist = torch.distributions.Normal(self.actor(obs), self.log_std.exp())
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action).sum(-1), dist.entropy().sum(-1), self.value(obs)


class ActionMap:
    """The policy's output u onto the devices' commands: ``passive + u · (high - low) / 2``,
    clipped into [low, high].

    u = 0 is the passive action (``powergrid.baselines.do_nothing``: solar and wind deliver what
    the weather gives, generators at p_min, storage idle), so an untrained policy starts at the
    score's 0 and learns what to change. Centred on 0 instead, it would start by curtailing
    every renewable (the ``zero`` baseline, far below doing nothing) and spend most of its
    budget learning to stop."""

    def __init__(self, env: MultiAgentMicrogrids) -> None:
        agents = env.possible_agents
        self.low = np.concatenate([env.action_space(a).low for a in agents]).astype(float)
        self.high = np.concatenate([env.action_space(a).high for a in agents]).astype(float)
        passive = do_nothing(env)
        self.passive = np.concatenate([passive[a] for a in agents]).astype(float)
        self.half_span = (self.high - self.low) / 2.0
        self.cuts = np.cumsum([env.action_space(a).shape[0] for a in agents])[:-1]

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return np.clip(self.passive + u * self.half_span, self.low, self.high)


def evaluate(agent: Agent, norm: RunningNorm, days: int, setup: str) -> np.ndarray:
    """The policy's mean action, day by day on the test split: per-day returns."""
    env = MultiAgentMicrogrids(task_config(setup))  # the task load_setup(setup) gives, on the test split
    agents, to_action = env.possible_agents, ActionMap(env)

    def controller(step, obs):
        joint = np.concatenate([obs[a] for a in agents])[None]
        with torch.no_grad():
            u = agent.actor(norm(joint)).numpy()[0]
        return dict(zip(agents, np.split(to_action(u), to_action.cuts)))

    return np.array([play_day(env, day, controller)[0] for day in range(days)])


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    envs = MicrogridsVectorEnv(args.num_envs, {**task_config(args.setup), "train": True})
    # The passive twin: the same copies on the same days (same seeds), doing nothing. Its reward
    # is what the day would have cost anyway (load times price, mostly); PPO learns from the
    # difference, which only the policy's actions move. The twin's return does not depend on the
    # policy, so the difference has the same optimum as the env's reward, with far less noise.
    twin = None if args.absolute_reward else MicrogridsVectorEnv(args.num_envs, {**task_config(args.setup), "train": True})
    to_action = ActionMap(MultiAgentMicrogrids(task_config(args.setup)))
    obs_dim, act_dim = envs.single_observation_space.shape[0], envs.single_action_space.shape[0]
    agent = Agent(obs_dim, act_dim)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)
    norm = RunningNorm(obs_dim)
    B, T = args.num_envs, args.rollout
    obs_buf = np.zeros((T, B, obs_dim), np.float32)
    act_buf, logp_buf = torch.zeros((T, B, act_dim)), torch.zeros((T, B))
    rew_buf, done_buf, val_buf = np.zeros((T, B)), np.zeros((T, B)), torch.zeros((T, B))

    obs, _ = envs.reset(seed=args.seed)
    if twin is not None:
        twin_obs, _ = twin.reset(seed=args.seed)
        passive = np.broadcast_to(to_action.passive, (args.num_envs, act_dim))
    updates = max(1, args.total_steps // (B * T))
    try:  # logs when tensorboard is installed (pip install tensorboard)
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(args.tensorboard)
    except ImportError:
        writer = None
    episode_return, curve, test_curve, finished = np.zeros(B), [], [], []
    start = time.perf_counter()
    for update in range(updates):
        optimizer.param_groups[0]["lr"] = args.lr * (1.0 - update / updates)
        for t in range(T):  # rollout
            norm.update(obs)
            obs_buf[t] = obs
            with torch.no_grad():
                action, logp, _, value = agent.act(norm(obs))
            act_buf[t], logp_buf[t], val_buf[t] = action, logp, value
            obs, reward, terminated, truncated, _ = envs.step(to_action(action.numpy()))
            rew_buf[t] = reward * args.reward_scale
            if twin is not None:
                twin_obs, twin_reward, *_ = twin.step(passive)
                rew_buf[t] -= twin_reward * args.reward_scale
            done_buf[t] = terminated | truncated
            episode_return += reward
            finished.extend(episode_return[done_buf[t] > 0].tolist())
            episode_return[done_buf[t] > 0] = 0.0
        # advantages (GAE); a copy whose day ended restarted in the same step (its next value is 0)
        with torch.no_grad():
            next_value = agent.value(norm(obs)).numpy()
        values = val_buf.numpy()
        advantages, last = np.zeros((T, B)), np.zeros(B)
        for t in reversed(range(T)):
            following = next_value if t == T - 1 else values[t + 1]
            alive = 1.0 - done_buf[t]
            delta = rew_buf[t] + args.gamma * following * alive - values[t]
            last = delta + args.gamma * args.gae_lambda * alive * last
            advantages[t] = last
        returns = torch.as_tensor(advantages + values, dtype=torch.float32).reshape(-1)
        adv = torch.as_tensor(advantages, dtype=torch.float32).reshape(-1)
        flat_obs, flat_act, flat_logp = norm(obs_buf.reshape(T * B, -1)), act_buf.reshape(T * B, -1), logp_buf.reshape(-1)
        size = T * B // args.minibatches
        for _ in range(args.epochs):  # PPO update
            for idx in torch.randperm(T * B).split(size):
                _, logp, entropy, value = agent.act(flat_obs[idx], flat_act[idx])
                ratio = (logp - flat_logp[idx]).exp()
                a = (adv[idx] - adv[idx].mean()) / (adv[idx].std() + 1e-8)
                policy_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - args.clip, 1 + args.clip)).mean()
                value_loss = 0.5 * ((value - returns[idx]) ** 2).mean()
                loss = policy_loss + 0.5 * value_loss - args.entropy * entropy.mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                optimizer.step()
        if finished:
            curve.append(((update + 1) * B * T, float(np.mean(finished))))
            finished = []
        if (update + 1) % max(1, updates // 10) == 0 or update == updates - 1:
            test_curve.append(((update + 1) * B * T, float(evaluate(agent, norm, args.eval_days, args.setup).mean())))
            train_return = curve[-1][1] if curve else float("nan")  # no training episode may have ended yet
            if writer is not None:
                writer.add_scalar("return/train", train_return, test_curve[-1][0])
                writer.add_scalar("return/test", test_curve[-1][1], test_curve[-1][0])
            print(f"update {update + 1}/{updates}  steps {(update + 1) * B * T:>8,}  train return {train_return:8.2f}"
                  f"  test return {test_curve[-1][1]:8.2f}  {time.perf_counter() - start:6.1f} s")
    train_seconds = time.perf_counter() - start
    if writer is not None:
        writer.close()
    if args.save:
        torch.save({"agent": agent.state_dict(), "norm": vars(norm), "setup": args.setup}, args.save)
        print(f"policy saved: {args.save}")

    # evaluation on the test split, day by day, against the baselines
    days = args.eval_days
    policy = evaluate(agent, norm, days, args.setup)
    baselines = run_baselines(days, setup=args.setup, seed=args.seed)
    optimum = baselines["optimum"].returns
    print(f"\ntrained for {updates * B * T:,} env steps in {train_seconds:.0f} s")
    print(format_table(baselines))
    print(f"{'PPO':<12} {policy.mean():>9.2f} ({policy.std():>6.2f})")
    try:
        print(f"PPO's score: {normalised(policy, baselines[REFERENCE].returns, optimum)}")
    except ValueError as error:  # the optimum gains nothing over doing nothing on these days
        print(f"PPO's score: none ({error})")
    above = np.flatnonzero(policy > optimum + 1e-6)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, train_returns = zip(*curve) if curve else ((), ())
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, train_returns, color="C0", alpha=0.5, label="PPO, train-split episodes")
    ax.plot(*zip(*test_curve), "o-", color="C3", label=f"PPO, {args.eval_days} test days")
    for (name, result), style in zip(baselines.items(), (":", (0, (1, 3)), "--", "-.", "-")):
        ax.axhline(result.returns.mean(), color="grey", linestyle=style, label=f"{name} ({days} test days)")
    ax.axhline(policy.mean(), color="C3", linestyle=":", label=f"PPO ({days} test days)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return (sum over MG1..MG3)")
    ax.set_title(f"PPO on the batched {args.setup} setup")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"learning curve: {args.plot}")
    if above.size:
        print(f"EXPLOIT: the policy beats the perfect-foresight optimum on test day(s) {above.tolist()}")
        return 1
    print("the policy stays at or below the perfect-foresight optimum on every test day")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
