"""The earlier ``heron.envs.base`` names: ``HeronEnvCore``, ``MultiAgentEnv`` and ``BaseEnv``.

The earlier env base was a mixin (``HeronEnvCore``: the agent registry and broker helpers) under
a multi-agent and a single-agent env class. Here the multi-agent one is
:class:`heron.envs.heron_env.HeronEnv` (a PettingZoo ``ParallelEnv``) with the mixin's names on
top; an env written against the earlier classes keeps its calls.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium as gym

from heron.agents.base import Agent
from heron.agents.coordinator_agent import CoordinatorAgent
from heron.core.observation import Observation
from heron.envs.heron_env import HeronEnv
from heron.messaging.base import Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager
from heron.messaging.memory import InMemoryBroker

__all__ = ["HeronEnvCore", "MultiAgentEnv", "BaseEnv"]


class HeronEnvCore:
    """The earlier mixin's names over an env's agent registry (``_heron_agents``), ``env_id``
    and ``message_broker``."""

    env_id: str
    message_broker: MessageBroker | None
    _heron_agents: dict[str, Agent]

    def _init_heron_core(self, env_id: str | None = None, message_broker: MessageBroker | None = None) -> None:
        """An id ``env_<8 hex>`` unless given, and an in-memory broker unless given."""
        self.env_id = env_id or f"env_{uuid.uuid4().hex[:8]}"
        self.message_broker = message_broker if message_broker is not None else InMemoryBroker()
        self._heron_agents = {}
        self._timestep = 0.0

    @property
    def heron_agents(self) -> dict[str, Agent]:
        return self._heron_agents

    @property
    def heron_coordinators(self) -> dict[str, CoordinatorAgent]:
        return {aid: a for aid, a in self._heron_agents.items() if isinstance(a, CoordinatorAgent)}

    def get_heron_agent(self, agent_id: str) -> Agent | None:
        return self._heron_agents.get(agent_id)

    def register_agent(self, agent: Agent) -> None:
        """Register ``agent`` alone (the earlier rule; ``HeronEnv.register_heron_agent`` takes its
        subtree too). Registering the same agent again changes nothing; another agent under a
        registered id raises."""
        if not isinstance(agent, Agent):
            raise ValueError(f"env {self.env_id!r}: register_agent takes an Agent, got {agent!r}")
        known = self._heron_agents.get(agent.agent_id)
        if known is not None and known is not agent:
            raise ValueError(f"another agent named {agent.agent_id!r} is already registered in env {self.env_id!r}")
        self._heron_agents[agent.agent_id] = agent

    def register_agents(self, agents: Iterable[Agent]) -> None:
        for agent in agents:
            self.register_agent(agent)

    def configure_agents_for_distributed(self) -> None:
        """Give every agent this env's broker and id."""
        for agent in self._heron_agents.values():
            agent.broker = self.message_broker
            agent.env_id = self.env_id

    def get_observations(self, global_state: Mapping[str, Any] | None = None) -> dict[str, Observation]:
        return {aid: agent.observe(global_state) for aid, agent in self._heron_agents.items()}

    def apply_actions(self, actions: Mapping[str, Any], observations: Mapping[str, Observation] | None = None) -> None:
        """Each agent acts on its observation with its action as the upstream action."""
        for aid, action in actions.items():
            agent = self._heron_agents.get(aid)
            if agent is None:
                raise ValueError(f"action for unknown agent {aid!r}; registered: {sorted(self._heron_agents)}")
            agent.act((observations or {}).get(aid), upstream_action=action)

    def get_agent_action_spaces(self) -> dict[str, gym.Space]:
        return {aid: agent.action_space for aid, agent in self._heron_agents.items()}

    def get_agent_observation_spaces(self) -> dict[str, gym.Space]:
        return {aid: agent.observation_space for aid, agent in self._heron_agents.items() if agent.observation_space is not None}

    def reset_agents(self, *, seed: int | None = None) -> None:
        for agent in self._heron_agents.values():
            if agent.upstream_id is None or agent.upstream_id not in self._heron_agents:
                agent.reset(seed)  # a root resets its subtree

    def setup_broker_channels(self) -> None:
        """Open each agent's channels to and from its upstream."""
        broker = self._broker()
        for agent in self._heron_agents.values():
            if agent.upstream_id is not None:
                broker.create_channel(ChannelManager.action_channel(agent.upstream_id, agent.agent_id, self.env_id))
                broker.create_channel(ChannelManager.info_channel(agent.agent_id, agent.upstream_id, self.env_id))

    def publish_action(self, sender_id: str, recipient_id: str, action: Any) -> None:
        """A setpoint from ``sender_id`` to ``recipient_id`` (read by the recipient's ``receive_commands``)."""
        channel = ChannelManager.action_channel(sender_id, recipient_id, self.env_id)
        self._broker().publish(channel, Message(self.env_id, sender_id, recipient_id, self._time(), MessageType.ACTION,
                                                {"setpoint": action}))

    def publish_info(self, sender_id: str, recipient_id: str, info: Mapping[str, Any]) -> None:
        channel = ChannelManager.info_channel(sender_id, recipient_id, self.env_id)
        self._broker().publish(channel, Message(self.env_id, sender_id, recipient_id, self._time(), MessageType.INFO, dict(info)))

    def publish_state_update(self, state: Mapping[str, Any]) -> None:
        channel = ChannelManager.state_update_channel(self.env_id)
        self._broker().publish(channel, Message(self.env_id, "environment", "broadcast", self._time(), MessageType.STATE_UPDATE,
                                                dict(state)))

    def clear_broker_environment(self) -> None:
        if self.message_broker is not None:
            self.message_broker.clear_environment(self.env_id)

    def close_heron(self) -> None:
        """Drop this env's messages from the broker."""
        self.clear_broker_environment()

    def _broker(self) -> MessageBroker:
        if self.message_broker is None:
            raise RuntimeError(f"env {self.env_id!r} has no message broker")
        return self.message_broker

    def _time(self) -> float:
        return float(self.simulation_time)

    @property
    def simulation_time(self) -> float:
        scheduler = getattr(self, "_scheduler", None)
        return scheduler.current_time if scheduler is not None else float(getattr(self, "_timestep", 0.0))


class MultiAgentEnv(HeronEnvCore, HeronEnv):
    """A multi-agent env the earlier way: a generated ``env_id`` and an in-memory broker unless
    given. Subclasses write ``reset``, ``step`` and the joint spaces."""

    def __init__(self, env_id: str | None = None, message_broker: MessageBroker | None = None) -> None:
        HeronEnv.__init__(self)
        self._init_heron_core(env_id, message_broker)

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None) -> tuple[dict, dict]:
        """Rewind the clock and reset the registered agents; a subclass adds its observations
        (the earlier subclasses call this first)."""
        self._timestep = 0.0
        self.reset_agents(seed=seed)
        return {}, {}

    def get_joint_observation_space(self) -> gym.Space:
        raise NotImplementedError(f"{type(self).__name__} does not define get_joint_observation_space")

    def get_joint_action_space(self) -> gym.Space:
        raise NotImplementedError(f"{type(self).__name__} does not define get_joint_action_space")

    def close(self) -> None:
        self.close_heron()


class BaseEnv(HeronEnvCore, gym.Env):
    """A single-agent Gymnasium env with the earlier mixin's agent registry and broker."""

    def __init__(self, env_id: str | None = None, message_broker: MessageBroker | None = None) -> None:
        self._init_heron_core(env_id, message_broker)
        self._scheduler = None

    def close(self) -> None:
        self.close_heron()
