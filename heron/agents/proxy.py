"""Proxy: runs an agent in distributed mode, where everything it learns arrives as messages."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from heron.agents.base import SYSTEM_LEVEL, Agent
from heron.messaging.base import ENVIRONMENT_ID, Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager

__all__ = ["Proxy", "ProxyAgent", "ENVIRONMENT_ID"]  # ENVIRONMENT_ID: the upstream of an agent that reports to no other


class Proxy:
    """Wraps ``actual_agent`` and connects it to ``broker``.

    One ``step_distributed()``: read the latest network results published for the agent and the
    reports of its subordinates (each carries the network state its sender knows), read upstream commands (a ``setpoint`` message or signals such as ``price``,
    from the action channel or the upstream's broadcast channel), let the agent observe and act,
    and publish its action, with the network state it knows and whatever ``agent.report()`` adds,
    on ``info_channel(agent, upstream)``.
    So each agent learns about others only through messages, and sees what visibility allows. Wrapping marks the agent
    ``distributed``, so a wrapped coordinator reaches its subordinates through the broker too when
    they are wrapped as well; subordinates left unwrapped are local to it (direct calls).
    When several setpoints arrived since the last step, the latest one is executed (the earlier
    ones are superseded, as a real actuator would be); signals are merged in arrival order. An
    agent with no policy that received no setpoint holds its last action and reports it again.
    """

    def __init__(
        self,
        agent_id: str,
        actual_agent: Agent,
        broker: MessageBroker,
        upstream_id: str | None = None,
        env_id: str | None = None,
    ) -> None:
        if not isinstance(actual_agent, Agent):
            raise ValueError(f"proxy {agent_id!r}: actual_agent must be an Agent, got {actual_agent!r}")
        if not isinstance(broker, MessageBroker):
            raise ValueError(f"proxy {agent_id!r}: broker must be a MessageBroker, got {broker!r}")
        self.agent_id = agent_id
        self.actual_agent = actual_agent
        self.broker = broker
        self.upstream_id = upstream_id or actual_agent.upstream_id or ENVIRONMENT_ID
        self.env_id = env_id or actual_agent.env_id
        actual_agent.env_id = self.env_id
        actual_agent.broker = broker
        actual_agent.distributed = True
        node = actual_agent.agent_id
        self.report_channel = ChannelManager.info_channel(node, self.upstream_id, self.env_id)
        self.result_channel = ChannelManager.power_flow_result_channel(self.env_id, node)
        self.report_channels = {sid: ChannelManager.info_channel(sid, node, self.env_id) for sid in actual_agent.subordinates}
        self._report_routes = [(sid, actual_agent.subordinates[sid], channel) for sid, channel in self.report_channels.items()]
        self.network_state: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, dict[str, Any]] = {}
        self.last_action: np.ndarray | None = None

    # ------------------------------------------------------------- receiving
    def refresh_network_state(self) -> None:
        """Cache the latest network results published for the agent, and the latest report of
        each subordinate (its action and the network state it knows)."""
        node = self.actual_agent.agent_id
        results = self.broker.consume(self.result_channel, node, self.env_id)
        for msg in results:
            self.network_state[node] = dict(msg.payload)
        # False: acting on the last results it had (none came this step, or only an earlier step's)
        self.results_fresh = bool(results) and results[-1].timestamp >= self.actual_agent.timestamp
        for sid, subordinate, channel in self._report_routes:
            if not subordinate.distributed:
                continue  # local to this agent: it reports by direct call, not on the broker
            for msg in self.broker.consume(channel, node, self.env_id):
                self.reports[sid] = dict(msg.payload)
                self.network_state.update(msg.payload.get("network", {}))

    def visible_network_state(self, requestor: Agent | None = None) -> dict[str, Any]:
        """Cached results the requestor may see: its own; its direct subordinates' if it
        coordinates them; everything for a system-level agent."""
        requestor = requestor or self.actual_agent
        if requestor.level >= SYSTEM_LEVEL:
            return dict(self.network_state)
        return {
            aid: state
            for aid, state in self.network_state.items()
            if aid == requestor.agent_id or aid in requestor.subordinates
        }

    # ----------------------------------------------------------------- acting
    def step(self, global_state: Mapping[str, Any] | None = None, report: bool = True, refresh: bool = True) -> np.ndarray:
        """One distributed step, synchronously (``step_distributed`` is its awaitable form).
        With ``report=False`` the action is not published: the caller reports it later, in a
        message of its own (``last_action``); with ``refresh=False`` the cached network state is
        not refreshed first (the caller knows nothing new was published)."""
        agent = self.actual_agent
        if refresh:
            self.refresh_network_state()
        setpoint = agent.receive_commands(self.upstream_id)
        # False: holding the last command (none came, it was refused, or it was meant for an earlier step)
        self.command_fresh = setpoint is not None and agent.command_time >= agent.timestamp
        obs = None
        if setpoint is None and agent.policy is not None:  # only a deciding agent needs to observe
            info = dict(global_state or {})
            network = self.visible_network_state(agent)
            if network:
                info["network"] = network
            if agent.upstream_signal:
                info["signals"] = dict(agent.upstream_signal)
            obs = agent.observe(info)
        if setpoint is None and agent.policy is None and agent.action.dim:
            action = agent.action.vector()  # nothing new to do: hold the last setpoint
        else:
            action = agent.act(obs, upstream_action=setpoint)
        if report:
            payload = {**agent.report(), "action": action.tolist(), "network": dict(self.network_state)}
            self.broker.publish(
                self.report_channel,
                Message(self.env_id, agent.agent_id, self.upstream_id, agent.timestamp, MessageType.ACTION, payload),
            )
        self.last_action = action
        return action

    async def step_distributed(self, global_state: Mapping[str, Any] | None = None) -> np.ndarray:
        """Awaitable distributed step (the in-memory broker never blocks, so it runs straight through)."""
        return self.step(global_state)

    def __repr__(self) -> str:
        return f"Proxy({self.agent_id!r} -> {self.actual_agent.agent_id!r}, upstream={self.upstream_id!r})"


ProxyAgent = Proxy
