"""``python -m powergrid``: the default setup in centralized, distributed and event-driven mode;
``python -m powergrid baselines --setup NAME --days N``: the baselines that bracket what a policy
can reach, with the normalised score;
``python -m powergrid evaluate --policy rule --setup NAME --days N --plot day.png``: a policy,
traced, with a picture of a day;
``python -m powergrid site MG1 --broker URL --env-id ID``: one site (a microgrid controller and
its devices) as a process of its own, serving an env configured with ``remote_sites``;
``python -m powergrid robustness``: the rule-based controllers under a grid of message latency
and loss (a table, a CSV and a PNG plot; see ``powergrid.robustness``).

The same rule-based controller (``powergrid.agents.policies.RuleBasedPolicy``) runs each
microgrid of the embedded ``ieee34_ieee13`` setup over the same test days; the table compares
episode return, cost and safety violations per episode, and speed.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from tqdm import tqdm

from heron.cli import finite_float, whole_number
from heron.scheduling import ScheduleConfig
from powergrid.agents.policies import RuleBasedPolicy
from powergrid.envs import MultiAgentMicrogrids


def run_stepped(centralized: bool, episodes: int, bar: tqdm, config: dict | None = None, seed: int = 0) -> dict[str, float]:
    env = MultiAgentMicrogrids({**(config or {}), "centralized": centralized, "train": False})
    policies = {a: RuleBasedPolicy(agent) for a, agent in env.agent_dict.items()}
    warm, _ = env.reset(seed=seed, options={"day": 0})  # a first step builds the compiled kernels: not timed
    env.step({a: policies[a](warm[a]) for a in env.agents})
    totals = np.zeros(3)  # return, cost, safety
    steps, start = 0, time.perf_counter()
    for day in range(episodes):
        obs, _ = env.reset(options={"day": day})
        while env.agents:
            obs, rewards, _, _, infos = env.step({a: policies[a](obs[a]) for a in env.agents})
            totals += [sum(rewards.values()), sum(i["cost"] for i in infos.values()), sum(i["safety"] for i in infos.values())]
            steps += 1
            bar.update(1)
    seconds = time.perf_counter() - start
    env.close()
    return {"return": totals[0] / episodes, "cost": totals[1] / episodes, "safety": totals[2] / episodes,
            "speed": steps / seconds, "unit": "steps/s"}


def event_driven_env(day: int, seed: int, env_update_interval: float | None = None,
                     config: dict | None = None) -> MultiAgentMicrogrids:
    """A test day of the default setup (or ``config``'s), set up for event-driven evaluation
    with rule-based controllers: controllers tick every 5 min, devices every 10 s, with
    observation, action and message delays and 10 % gaussian jitter."""
    env = MultiAgentMicrogrids({**(config or {}), "train": False, "env_update_interval": env_update_interval})
    env.reset(options={"day": day})
    for agent in env.agent_dict.values():
        agent.policy = RuleBasedPolicy(agent)
    env.setup_event_driven(seed=seed)
    for agent_id in env.registered_agents:
        tick = 300.0 if agent_id in env.agent_dict else 10.0
        env.scheduler.register_agent(agent_id, schedule_config=ScheduleConfig.with_jitter(
            tick_interval=tick, obs_delay=1.0, act_delay=2.0, msg_delay=0.5, jitter_ratio=0.1, seed=seed))
    return env


def run_event_driven(episodes: int, bar: tqdm, config: dict | None = None, seed: int = 0) -> dict[str, float]:
    """Each day simulated in continuous time (see ``event_driven_env``); day ``d``'s delays
    and jitter draw from seed ``seed + d``."""
    totals = np.zeros(3)
    events, start = 0, time.perf_counter()
    for day in range(episodes):
        env = event_driven_env(day, seed=seed + day, env_update_interval=60.0, config=config)
        for hour in range(env.max_episode_steps):
            events += env.run_event_driven((hour + 1) * 3600.0)
            bar.update(1)
        cost, safety = env.event_totals["cost"], env.event_totals["safety"]
        penalty = env.config["penalty"]
        totals += [-(cost + penalty * safety).sum(), cost.sum(), safety.sum()]
    seconds = time.perf_counter() - start
    return {"return": totals[0] / episodes, "cost": totals[1] / episodes, "safety": totals[2] / episodes,
            "speed": events / seconds, "unit": "events/s"}


def main_job_config(setup: str | None, config_file: str | None) -> dict:
    """The main job's config: ``setup`` (a shipped setup's name, or a folder or file of your
    own), then ``config_file``'s keys over it; the embedded default setup when neither is given."""
    from powergrid.setups import load_setup

    config: dict = {}
    if setup:
        config = {"setup": setup} if "/" not in setup and not setup.endswith((".yml", ".yaml", ".json")) else load_setup(setup)
    return {**config, **(load_setup_file(config_file) or {})}


positive_int = whole_number(1, "a positive whole number")
seed_int = whole_number(0, "a seed, a whole number >= 0 (numpy's generators take no other)")


def run_baseline_table(args: argparse.Namespace) -> int:
    """``python -m powergrid baselines``: every baseline on the first ``--days`` test days of
    ``--setup`` with its ``load_setup`` episode settings (see ``powergrid.baselines``)."""
    from powergrid.baselines import BASELINES, format_table, run_baselines, task_config

    config = task_config(args.setup, load_setup_file(args.config))
    print(f"setup {config['setup']}: episodes of {config.get('max_episode_steps') or 24} steps, "
          f"penalty {config.get('penalty', 10.0)}, share_reward {bool(config.get('share_reward'))}")
    with tqdm(total=len(BASELINES) * args.days, desc="baselines", unit="day") as bar:
        results = run_baselines(args.days, config, seed=args.seed,
                                progress=lambda name, day: (bar.set_postfix_str(name), bar.update(1)))
    print()
    print(format_table(results))
    return 0


def run_evaluation(args: argparse.Namespace) -> int:
    """``python -m powergrid evaluate``: a policy on test days, traced (see ``powergrid.evaluate``)."""
    from powergrid.evaluate import evaluate, plot_day

    config = load_setup_file(args.config)
    totals, frame = evaluate(args.policy, args.days, args.setup, config, args.seed)
    print(f"{'day':<5} {'return':>10} {'cost':>10} {'safety':>9}")
    for day, (ret, cost, safety) in enumerate(totals):
        print(f"{day:<5} {ret:>10.2f} {cost:>10.2f} {safety:>9.4f}")
    print(f"{'mean':<5} {totals[:, 0].mean():>10.2f} {totals[:, 1].mean():>10.2f} {totals[:, 2].mean():>9.4f}")
    if args.trace:
        frame.to_csv(args.trace, index=False)
        print(f"trace: {args.trace}")
    if args.plot:
        print(f"day 0: {plot_day(frame, args.plot, day=0)}")
    return 0


def load_setup_file(path: str | None) -> dict | None:
    """A config file's keys (``load_setup``'s reading of a .json/.yml or setup folder), or None."""
    if not path:
        return None
    from powergrid.setups import load_setup

    return load_setup(path)


def run_site(args: argparse.Namespace) -> int:
    """``python -m powergrid site``: serve until the env says stop."""
    import json

    from powergrid.deploy import broker_from_url, serve, site_agent

    config = None
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            config = json.load(f)
    agent, broker = site_agent(args.agent_id, config), broker_from_url(args.broker, args.keys)
    print(f"site {args.agent_id}: serving env {args.env_id}", flush=True)
    served = serve(agent, broker, args.env_id, idle_timeout=args.idle_timeout, wait=args.wait)
    print(f"site {args.agent_id}: served {served.steps} steps of env {args.env_id} (skipped {served.skipped} already past)")
    return 0


def numbers(text: str) -> list[float]:
    """An argparse type: comma-separated numbers >= 0."""
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not np.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers >= 0, got {text!r}")
    return values


def run_robustness(args: argparse.Namespace) -> int:
    """``python -m powergrid robustness``: the sweep, its table, CSV and plot."""
    import os

    import sys

    from powergrid.plotting import pyplot
    from powergrid.robustness import ROBUSTNESS_PLOT, format_table, plot, sweep, write_table

    try:
        pyplot(ROBUSTNESS_PLOT)  # before the sweep, not after it
    except ImportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    with tqdm(total=len(args.latency) * len(args.loss), desc="robustness", unit="setting") as bar:
        cells = sweep(args.latency, args.loss, args.days, deadline=args.deadline, jitter=args.jitter, seed=args.seed,
                      progress=lambda cell: bar.update(1))
    table, figure = os.path.join(args.out, "robustness.csv"), os.path.join(args.out, "robustness.png")
    write_table(cells, table)
    plot(cells, figure, title=f"rule-based control, {args.days} test days, deadline {args.deadline:g} s")
    print(f"\nRule-based control under message latency (jitter {args.jitter:g} x latency) and loss, deadline "
          f"{args.deadline:g} s; per day, sums over the microgrids")
    print(format_table(cells))
    print(f"table: {table}\nplot:  {figure}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=positive_int, default=10, help="test days per mode (default 10)")
    parser.add_argument("--setup", default=None, help="a shipped setup or a setup of your own (default: ieee34_ieee13)")
    parser.add_argument("--config", default=None, help="a config file (.json/.yml) merged over the setup, e.g. max_episode_steps")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of the env and of the event-driven delays' jitter (default 0)")
    commands = parser.add_subparsers(dest="command", metavar="{baselines,evaluate,site,robustness}")
    baselines = commands.add_parser("baselines", help="the table of baselines that bracket what a policy can reach")
    baselines.add_argument("--days", type=positive_int, default=20, help="test days (default 20)")
    baselines.add_argument("--seed", type=seed_int, default=0, help="seed of the random baseline (default 0)")
    baselines.add_argument("--setup", default=None, help="a shipped setup (default: ieee34_ieee13, or the --config file's)")
    baselines.add_argument("--config", default=None, help="a config file (.json/.yml) or setup folder, over the setup")
    evaluation = commands.add_parser("evaluate", help="a policy on test days: a table, a trace and a picture of a day")
    evaluation.add_argument("--policy", default="rule", help="random, zero, do-nothing, rule, optimum, or a .py file "
                            "defining policy(observations) or make_policy(env) (default rule)")
    evaluation.add_argument("--setup", default=None, help="a shipped setup (default ieee34_ieee13)")
    evaluation.add_argument("--config", default=None, help="a config file (.json/.yml) or setup folder, over the setup")
    evaluation.add_argument("--days", type=positive_int, default=1, help="test days (default 1)")
    evaluation.add_argument("--seed", type=seed_int, default=0, help="seed of the random policy (default 0)")
    evaluation.add_argument("--plot", default=None, help="a PNG of day 0 per microgrid: price, import, SOC, voltages")
    evaluation.add_argument("--trace", default=None, help="a CSV of every step (see powergrid.envs.trace)")
    site = commands.add_parser("site", help="serve one site of an env whose sites run as processes (config 'remote_sites')")
    site.add_argument("agent_id", help="the site's agent id, e.g. MG1")
    site.add_argument("--broker", required=True, help="the broker's URL, e.g. redis://127.0.0.1:6379/0")
    site.add_argument("--env-id", required=True, help="the env's env_id")
    site.add_argument("--config", help="the env's config as a JSON file (setup, microgrid_configs, train...); default: the default config")
    site.add_argument("--idle-timeout", type=finite_float(0.0, strict=True), default=600.0, help="seconds without a message before it gives up (default 600)")
    site.add_argument("--keys", help="the site's key file (signed messages: see heron.messaging.security); default: unsigned")
    site.add_argument("--wait", type=finite_float(0.0, strict=False), default=None, help="seconds it waits in a step for its command and results before "
                      "acting on the last it had (default: the env's site_timeout)")
    robust = commands.add_parser("robustness", help="the rule-based controllers under message latency and loss")
    robust.add_argument("--latency", type=numbers, default=[0.0, 0.9, 1.0, 1.2], help="latencies, s (default 0,0.9,1,1.2)")
    robust.add_argument("--loss", type=numbers, default=[0.0, 0.05, 0.2, 0.5], help="loss probabilities (default 0,0.05,0.2,0.5)")
    robust.add_argument("--deadline", type=finite_float(0.0, strict=True), default=1.0, help="how long a reader waits in a step, s (default 1)")
    robust.add_argument("--jitter", type=finite_float(0.0, strict=False), default=0.2, help="jitter's standard deviation over the latency (default 0.2)")
    robust.add_argument("--days", type=positive_int, default=2, help="test days per setting (default 2)")
    robust.add_argument("--seed", type=seed_int, default=0, help="the fault model's seed (default 0)")
    robust.add_argument("--out", default="robustness", help="folder for robustness.csv and robustness.png (default ./robustness)")
    parser.add_argument("--debug", action="store_true", help="on an error, print its traceback, not one line")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        return run_command(args)
    except (ValueError, RuntimeError, OSError, TimeoutError, ImportError, KeyError) as error:
        if args.debug:
            raise
        print(f"error: {error} (--debug shows where)", file=sys.stderr)
        return 1


def run_command(args: argparse.Namespace) -> int:
    """The command ``args`` names (the main job without one)."""
    if args.command == "robustness":
        return run_robustness(args)
    if args.command == "baselines":
        return run_baseline_table(args)
    if args.command == "site":
        return run_site(args)
    if args.command == "evaluate":
        return run_evaluation(args)
    config = main_job_config(args.setup, args.config)
    probe = MultiAgentMicrogrids({**config, "train": False})
    name, steps, agents = probe.config.get("setup") or "ieee34_ieee13", probe.max_episode_steps, probe.possible_agents
    results = {}
    with tqdm(total=3 * steps * args.episodes, desc=name, unit="step") as bar:
        bar.set_postfix_str("centralized")
        results["centralized"] = run_stepped(True, args.episodes, bar, config, args.seed)
        bar.set_postfix_str("distributed")
        results["distributed"] = run_stepped(False, args.episodes, bar, config, args.seed)
        bar.set_postfix_str("event-driven")
        results["event-driven"] = run_event_driven(args.episodes, bar, config, args.seed)
    print(f"\nSetup {name}, rule-based control, {args.episodes} test days of {steps} h; per-episode sums over "
          f"{agents[0]}..{agents[-1]}")
    print(f"{'mode':<13} {'return':>10} {'cost':>10} {'safety':>10} {'speed':>18}")
    for mode, r in results.items():
        print(f"{mode:<13} {r['return']:>10.2f} {r['cost']:>10.2f} {r['safety']:>10.3f} {r['speed']:>11.0f} {r['unit']}")
    print("(centralized and distributed run the same steps and must agree; event-driven runs in continuous"
          " time with delays and jitter, its cost and safety integrated per hour)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
