"""The base of every HERON environment: a PettingZoo ``ParallelEnv`` that also runs event-driven.

Subclasses implement the PettingZoo API (``reset``, ``step``, spaces) and register their HERON
agents. The event-driven API is shared: ``setup_event_driven()`` registers every agent with an
:class:`EventScheduler` and installs the default handlers; ``run_event_driven(t_end)`` runs it.

Default event flow for an agent X:

1. ``AGENT_TICK``: snapshot ``global_state_fn()``; the observation is ready after X's ``obs_delay``.
2. ``OBSERVATION_READY``: X reads its commands from the broker, observes, decides
   (:meth:`Agent.tick`); the action takes effect after X's ``act_delay``.
3. ``ACTION_EFFECT``: a field agent's action goes to ``on_action_effect(agent_id, action)``
   (default :meth:`apply_action`); a coordinator's action becomes one command message per
   subordinate, each delivered after the coordinator's ``msg_delay``.
4. ``MESSAGE_DELIVERY``: the message is published on ``action_channel(sender, recipient)``;
   the recipient reads it at its next observation.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from pettingzoo import ParallelEnv

from heron.agents.base import Agent
from heron.agents.coordinator_agent import CoordinatorAgent
from heron.agents.field_agent import FieldAgent
from heron.messaging.base import MessageBroker
from heron.messaging.channels import ChannelManager
from heron.messaging.memory import InMemoryBroker
from heron.scheduling.events import Event, EventType
from heron.scheduling.scheduler import EventScheduler

__all__ = ["HeronEnv"]


class HeronEnv(ParallelEnv):
    """PettingZoo parallel env with HERON agents and the event-driven execution mode."""

    metadata: dict[str, Any] = {"name": "heron_env", "render_modes": []}

    def __init__(self, env_id: str = "default", message_broker: MessageBroker | None = None) -> None:
        self.env_id = env_id
        self.message_broker = message_broker
        self._heron_agents: dict[str, Agent] = {}
        self._scheduler: EventScheduler | None = None
        self._global_state_fn: Callable[[], Mapping[str, Any]] | None = None
        self._on_action_effect: Callable[[str, Any], Any] | None = None

    # ------------------------------------------------------------ the agents
    def register_heron_agent(self, agent: Agent) -> None:
        """Register ``agent`` and everything below it under this env's id and broker."""
        for a in agent.iter_agents():
            if a.agent_id in self._heron_agents:
                raise ValueError(f"an agent named {a.agent_id!r} is already registered in env {self.env_id!r}")
            self._heron_agents[a.agent_id] = a
        agent.env_id = self.env_id

    def register_heron_agents(self, agents: Iterable[Agent]) -> None:
        for agent in agents:
            self.register_heron_agent(agent)

    @property
    def registered_agents(self) -> dict[str, Agent]:
        """Every HERON agent of the env by id (a copy: safe to iterate while re-registering)."""
        return dict(self._heron_agents)

    def get_heron_agent(self, agent_id: str) -> Agent | None:
        return self._heron_agents.get(agent_id)

    def apply_action(self, agent_id: str, action: Any) -> None:
        """Make ``action`` take effect now. Envs with physics override this to write into it."""
        agent = self._heron_agents.get(agent_id)
        if agent is None:
            raise ValueError(f"unknown agent {agent_id!r}; registered: {sorted(self._heron_agents)}")
        if isinstance(agent, FieldAgent):
            agent._set_device_action(action)
        else:
            agent.act(None, upstream_action=action)

    def get_state(self) -> dict[str, Any]:
        """The global state handed to observing agents; envs extend it."""
        return {"time": self.simulation_time}

    # --------------------------------------------------------- event driven
    def setup_event_driven(self, scheduler: EventScheduler | None = None, seed: int | None = None) -> EventScheduler:
        """Register every agent (with its own ``schedule_config``) and install the default handlers."""
        self._scheduler = scheduler if scheduler is not None else EventScheduler(seed=seed)
        if self.message_broker is None:
            self.message_broker = InMemoryBroker()
        for agent_id, agent in self._heron_agents.items():
            if agent.broker is None:
                agent.broker = self.message_broker
            self._scheduler.register_agent(agent_id, schedule_config=agent.schedule_config)
        self.setup_default_handlers()
        return self._scheduler

    def setup_default_handlers(
        self,
        global_state_fn: Callable[[], Mapping[str, Any]] | None = None,
        on_action_effect: Callable[[str, Any], Any] | None = None,
    ) -> None:
        """Install the handlers of the default flow (see the module doc)."""
        scheduler = self.scheduler
        self._global_state_fn = global_state_fn if global_state_fn is not None else self.get_state
        self._on_action_effect = on_action_effect if on_action_effect is not None else self.apply_action
        scheduler.set_handler(EventType.AGENT_TICK, self._handle_tick)
        scheduler.set_handler(EventType.OBSERVATION_READY, self._handle_observation)
        scheduler.set_handler(EventType.ACTION_EFFECT, self._handle_action_effect)
        scheduler.set_handler(EventType.MESSAGE_DELIVERY, self._handle_message)

    def run_event_driven(self, t_end: float, max_events: int | None = None) -> int:
        """Process events up to simulation time ``t_end``; returns how many ran."""
        return self.scheduler.run_until(t_end, max_events=max_events)

    @property
    def scheduler(self) -> EventScheduler:
        if self._scheduler is None:
            raise RuntimeError("event-driven mode is not set up: call env.setup_event_driven() first")
        return self._scheduler

    @property
    def simulation_time(self) -> float:
        return self._scheduler.current_time if self._scheduler is not None else 0.0

    def _agent(self, agent_id: str) -> Agent:
        agent = self._heron_agents.get(agent_id)
        if agent is None:
            raise ValueError(f"event for unknown agent {agent_id!r}; registered: {sorted(self._heron_agents)}")
        return agent

    def _handle_tick(self, event: Event, scheduler: EventScheduler) -> None:
        state = self._global_state_fn() if self._global_state_fn is not None else None
        scheduler.schedule_observation_ready(event.agent_id, state)

    def _handle_observation(self, event: Event, scheduler: EventScheduler) -> None:
        self._agent(event.agent_id).tick(scheduler, scheduler.current_time, event.payload)

    def _handle_action_effect(self, event: Event, scheduler: EventScheduler) -> None:
        agent = self._agent(event.agent_id)
        if isinstance(agent, CoordinatorAgent):
            agent.timestamp = scheduler.current_time
            for sid, message in agent.command_messages(event.payload["action"]).items():
                scheduler.schedule_message_delivery(agent.agent_id, sid, message)
        elif self._on_action_effect is not None:
            self._on_action_effect(event.agent_id, event.payload["action"])

    def _handle_message(self, event: Event, scheduler: EventScheduler) -> None:
        delivery = event.payload
        self.message_broker.publish(ChannelManager.action_channel(delivery.sender_id, delivery.recipient_id, self.env_id),
                                    delivery.message)
