"""Level-2 agents: controllers that direct a group of subordinates through a protocol."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from heron.agents.base import COORDINATOR_LEVEL, Agent
from heron.compat.agents import EarlierCoordinatorAPI
from heron.core.observation import Observation
from heron.messaging.base import Message, MessageType
from heron.messaging.channels import ChannelManager
from heron.protocols.base import is_empty_setpoint
from heron.protocols.vertical import SetpointProtocol

__all__ = ["CoordinatorAgent"]


class CoordinatorAgent(EarlierCoordinatorAPI, Agent):
    """Directs its subordinates through its protocol (setpoints by default).

    Its action space comes from the protocol (for setpoints: the subordinates' actions, continuous
    parts first); the protocol precomputes how that flat action splits, once, when subordinates
    are attached. Centralized, subordinates are called directly; when ``distributed``, each share
    is published on ``action_channel(self, subordinate)`` for the subordinate's proxy, unless the
    subordinates are local to this coordinator (not wrapped): those it still sets directly.
    A ``config['agents']`` list is built into subordinates by ``_build_subordinate_agents``.
    """

    level = COORDINATOR_LEVEL
    default_tick_interval = 60.0

    def __init__(self, agent_id: str, *args: Any, **kwargs: Any) -> None:
        self._wired = False
        self._share_channels: dict[tuple[str, str], str] = {}
        super().__init__(agent_id, *args, **kwargs)
        if self.protocol is None:
            self.protocol = SetpointProtocol()
        self._add_configured("agents", self._build_subordinate_agents)
        self._wire()

    @property
    def subordinate_agents(self) -> dict[str, Agent]:
        """The subordinates by id (the earlier HERON's name); assigning a dict adds its agents."""
        return self.subordinates

    @subordinate_agents.setter
    def subordinate_agents(self, agents: Mapping[str, Agent] | Iterable[Agent]) -> None:
        for agent in (agents.values() if isinstance(agents, Mapping) else agents):
            if self.subordinates.get(agent.agent_id) is not agent:
                self.add_subordinate(agent)

    def add_subordinate(self, agent: Agent) -> None:
        super().add_subordinate(agent)
        if self._wired:
            self._wire()

    def _wire(self) -> None:
        """Derive the action spec from the protocol and let it precompute the decomposition."""
        sub_actions = {sid: sub.action for sid, sub in self.subordinates.items()}
        self.action = self.protocol.coordinator_action_spec(sub_actions, owner=f"agent {self.agent_id!r}")
        self.protocol.bind(sub_actions)
        self._wired = True

    def act(self, obs: Observation | None = None, upstream_action: Any = None) -> np.ndarray:
        """A flat action (split by the protocol), or one share per subordinate id: ``{sid: share}``
        (the earlier HERON's per-agent dict; a dict naming no subordinate is a signal)."""
        if type(upstream_action) is not np.ndarray and self._per_subordinate(upstream_action):
            for sid, share in upstream_action.items():
                self.subordinates[sid].act(None, upstream_action=share)
            return self.action.vector()
        vector = self._own_action(obs, upstream_action)
        if vector is None:  # holding: subordinates keep what they were told
            return self.action.vector()
        self.direct_subordinates(vector, obs)
        return vector

    def _per_subordinate(self, action: Any) -> bool:
        """Whether ``action`` is a dict of shares keyed by subordinate ids (all of its keys are)."""
        return isinstance(action, Mapping) and bool(action) and all(k in self.subordinates for k in action)

    def direct_subordinates(self, action: np.ndarray, obs: Observation | None = None) -> dict[str, Any] | None:
        """Pass ``action`` down through the protocol; returns the shares (None if the protocol acted itself).

        Subordinates that run behind their own proxy are sent their shares through the broker;
        local ones (not wrapped, e.g. the devices on a microgrid controller's own bus) are set by
        direct call. A distributed coordinator's subordinates are all one or all the other.
        """
        if self.distributed:
            if self.broker is None:
                raise ValueError(f"agent {self.agent_id!r} runs distributed but has no message broker")
            remote = [sid for sid, sub in self.subordinates.items() if sub.distributed]
            if remote:
                local = [sid for sid, sub in self.subordinates.items() if not sub.distributed and sub.action.dim]
                if local:  # (a subordinate without an action is sent nothing either way)
                    raise ValueError(f"agent {self.agent_id!r}: subordinates {remote} run behind proxies but {local} "
                                     "do not; wrap all of them or none")
                return self._publish_shares(action)
        shares = self.protocol.coordinate_action(self.subordinates, obs, action)
        if shares is not None and len(shares) < len(self.subordinates):
            for sid, sub in self.subordinates.items():
                if sid not in shares and (sub.policy is not None or sub.subordinates):
                    sub.act(None)
        return shares

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, protocol={type(self.protocol).__name__})"

    def command_messages(self, action: np.ndarray) -> dict[str, Message]:
        """The message each subordinate is sent for ``action`` (through the protocol); a
        subordinate with nothing to set (an empty setpoint) is sent nothing."""
        payloads = self.protocol.coordinate_message(self.subordinates, None, action)
        env_id, sender, t = self.env_id, self.agent_id, self.timestamp
        return {sid: Message(env_id, sender, sid, t, MessageType.ACTION, payload)
                for sid, payload in payloads.items() if not is_empty_setpoint(payload)}

    def _publish_shares(self, action: np.ndarray) -> dict[str, Any]:
        broker, env_id, channels = self.broker, self.env_id, self._share_channels
        messages = self.command_messages(action)
        for sid, message in messages.items():
            channel = channels.get((sid, env_id))
            if channel is None:  # spelled once per subordinate: this runs every distributed step
                channel = channels[(sid, env_id)] = ChannelManager.action_channel(self.agent_id, sid, env_id)
            broker.publish(channel, message)
        return {sid: m.payload for sid, m in messages.items()}

