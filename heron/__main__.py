"""``python -m heron``: a hierarchy run in centralized and distributed mode, side by side.

A system operator sends setpoints to three microgrid controllers, each directing a generator
and a storage unit; the controllers then trade surpluses peer to peer. The same seeded policy
drives both modes; the table shows that they agree and what the messages cost.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np

from heron.agents import CoordinatorAgent, FieldAgent, Proxy, SystemAgent
from heron.cli import whole_number
from heron.core import Action, FeatureProvider, RandomPolicy
from heron.messaging import ChannelManager, InMemoryBroker, Message, MessageType
from heron.protocols import P2PTradingProtocol


class Unit(FieldAgent):
    """A dispatchable unit: its action is its output in MW."""

    def __init__(self, agent_id: str, p_max: float, cost: float) -> None:
        self.cost = cost
        super().__init__(agent_id, action=Action(dim_c=1, range=(-p_max, p_max)),
                         state=[FeatureProvider("output", visibility=["owner", "coordinator"], p_mw=0.0)])

    def _execute_local_action(self, action: np.ndarray) -> None:
        self.state["output"].set_values(p_mw=action[0])


def build(env_id: str) -> SystemAgent:
    grids = []
    for k in range(3):
        units = [Unit(f"MG{k + 1}_gen", 1.0, 40.0 + 5 * k), Unit(f"MG{k + 1}_ess", 0.5, 10.0)]
        grids.append(CoordinatorAgent(f"MG{k + 1}", subordinates=units))
    return SystemAgent("system_operator", subordinates=grids, env_id=env_id)


def market_states(operator: SystemAgent, loads: np.ndarray) -> dict[str, dict[str, float]]:
    states = {}
    for load, (gid, grid) in zip(loads, operator.subordinates.items()):
        supply = sum(u.state["output"]["p_mw"] for u in grid.subordinates.values())
        states[gid] = {"net_demand": load - supply, "marginal_cost": 40.0 + 10 * load}
    return states


def run(mode: str, steps: int, seed: int) -> tuple[list[np.ndarray], float]:
    operator = build(env_id=mode)
    policy = RandomPolicy(operator.action_space, seed=seed)
    market = P2PTradingProtocol(trading_fee=0.01)
    rng = np.random.default_rng(seed)
    trace = []
    broker = InMemoryBroker()
    proxies = [Proxy(f"{a.agent_id}_proxy", a, broker) for a in operator.iter_agents()] if mode == "distributed" else []
    loop = asyncio.new_event_loop()

    async def step_agents() -> None:  # top-down: each agent acts on what has reached it
        for proxy in proxies:
            await proxy.step_distributed()
    start = time.perf_counter()
    for t in range(steps):
        action = policy.forward(None)
        loads = rng.uniform(0.0, 2.0, size=3)
        if mode == "centralized":
            operator.act(upstream_action=action)
            _, trades = market.coordinate(None, market_states(operator, loads))
        else:
            channel = ChannelManager.action_channel("environment", operator.agent_id, mode)
            broker.publish(channel, Message(mode, "environment", operator.agent_id, float(t), MessageType.ACTION, {"setpoint": action}))
            loop.run_until_complete(step_agents())
            broker.consume(proxies[0].report_channel, "environment", mode)
            _, trades = market.coordinate_distributed(broker, market_states(operator, loads), env_id=mode)
        outputs = [u.state["output"]["p_mw"] for u in operator.iter_agents() if isinstance(u, Unit)]
        trace.append(np.array(outputs + [trades[g]["adjustment"] for g in trades]))
    loop.close()
    return trace, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=whole_number(1), default=2000, help="steps per mode (default 2000)")
    parser.add_argument("--seed", type=whole_number(0), default=0, help="seed, a whole number >= 0 (default 0)")
    args = parser.parse_args(argv)
    results = {mode: run(mode, args.steps, args.seed) for mode in ("centralized", "distributed")}
    base, _ = results["centralized"]
    print(f"{'mode':<12} {'steps':>6} {'steps/s':>10} {'max |diff| vs centralized':>27}")
    for mode, (trace, seconds) in results.items():
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(trace, base))
        print(f"{mode:<12} {len(trace):>6} {len(trace) / seconds:>10.0f} {diff:>27.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
