"""A site: a microgrid controller with its devices, as it runs in distributed mode.

Everything a site learns arrives as messages; everything it computes is its own: it reads
the command for its controller, sets its devices over its local bus (they publish their state
updates); later it reads the network results published for it, computes its observation, cost
and safety from them and its devices' reports, and reports those with its action, once a step,
on ``info_channel(site, 'environment')``. The env's side is :mod:`powergrid.envs.exchange`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from heron.agents.proxy import ENVIRONMENT_ID, Proxy
from heron.messaging.base import Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager
from powergrid.agents.devices import exchange_cost

if TYPE_CHECKING:
    from powergrid.agents.grid_agent import GridAgent


def control_channel(env_id: str, agent_id: str) -> str:
    """Where the env tells a site process to reset, step or stop."""
    return ChannelManager.custom_channel("site_control", env_id, agent_id)

__all__ = ["Site"]


class Site:
    """``agent`` behind its proxy on ``broker``; its devices publish telemetry to the broker."""

    def __init__(self, agent: GridAgent, broker: MessageBroker, env_id: str, sell_price_ratio: float = 1.0,
                 dt_h: float = 1.0) -> None:
        self.agent, self.broker, self.env_id = agent, broker, env_id
        self.sell_price_ratio, self.dt_h = float(sell_price_ratio), float(dt_h)
        self.proxy = Proxy(f"{agent.agent_id}_proxy", agent, broker, upstream_id=ENVIRONMENT_ID, env_id=env_id)
        for device in agent.devices.values():  # a device without an action (renewables) has nothing to report
            device.broker, device.publishes_state = broker, bool(device.action.dim)
        from powergrid.core.safety_kernel import network_violation  # Numba, only where sites run

        self._network_violation = network_violation
        network_violation(np.ones(1), np.ones(1), 0.0)  # load the kernel now, not in the first step

    def act(self, timestamp: float) -> np.ndarray:
        """Read the controller's command and set the devices (reported with the evaluation)."""
        agent = self.agent
        agent.timestamp = timestamp
        for device in agent.devices.values():
            device.timestamp = timestamp
        return self.proxy.step(report=False, refresh=False)  # results come later in the step; evaluate reads them

    def evaluate(self) -> tuple[np.ndarray, float, float, float, dict[str, Any]] | None:
        """From the latest network results and the devices' reports: the observation, cost,
        safety, the generators' mean marginal cost (the price without generators), and the
        network results themselves; None before any results have reached the site."""
        self.proxy.refresh_network_state()
        agent = self.agent
        network = self.proxy.network_state.get(agent.agent_id)
        if network is None:
            return None
        measured = network["device_states"]  # what the env measured (renewable output follows the weather)
        cost = exchange_cost(network["p_import"], network["price"], self.sell_price_ratio, self.dt_h)
        states, safety, marginal = {}, 0.0, []
        for d, device in agent.devices.items():
            state = states[d] = measured[d] if d in measured else device.published or device.report()
            cost += state.get("cost", 0.0)
            safety += state.get("safety", 0.0)
            if "marginal_cost" in state:
                marginal.append(state["marginal_cost"])
        safety += self._network_violation(network["vm_pu"], network["line_loading"], network["trafo_loading"])
        mean_marginal = sum(marginal) / len(marginal) if marginal else network["price"]
        return agent.observation_from(states, network), cost, safety, mean_marginal, network

    def report(self, timestamp: float) -> None:
        """Evaluate and report to the env: the action, observation, cost, safety, import and
        marginal cost."""
        evaluation = self.evaluate()
        if evaluation is None:  # nothing to evaluate from yet: no report (the env holds the site, or names it)
            return
        obs, cost, safety, marginal, network = evaluation
        proxy = self.proxy
        payload = {"action": proxy.last_action, "obs": obs, "cost": cost, "safety": safety, "p_import": network["p_import"],
                   "marginal_cost": marginal, "stale": not (getattr(proxy, "command_fresh", True) and getattr(proxy, "results_fresh", True))}
        self.broker.publish(self.proxy.report_channel,
                            Message(self.env_id, self.agent.agent_id, ENVIRONMENT_ID, timestamp, MessageType.INFO, payload))
