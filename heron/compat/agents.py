"""The earlier HERON's agent methods, as mixins of this package's agents.

The earlier agents had their own names for things this package's agents do: ``_timestep`` is
``timestamp``, ``_message_broker`` is ``broker``; they messaged each other with
``send_message``/``receive_messages`` on the info channels and sent setpoints with
``send_action_to_subordinate``. A coordinator built its subordinates from ``config['agents']``
through ``_build_subordinate_agents`` and a system agent its coordinators from
``config['coordinators']`` through ``_build_coordinators``. Each is a thin layer on the real
methods: a setpoint sent this way is read by ``receive_commands`` like any other.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from heron.messaging.base import Message, MessageType
from heron.messaging.channels import ChannelManager
from heron.scheduling.config import JitterType, ScheduleConfig

__all__ = ["EarlierAgentAPI", "EarlierFieldAPI", "EarlierCoordinatorAPI", "EarlierSystemAPI", "FieldConfig", "timing_of",
           "space_as_action"]


def timing_of(agent_id: str, tick_config: Any, schedule_config: ScheduleConfig | None) -> ScheduleConfig | None:
    """The ``schedule_config`` an earlier ``tick_config=`` stands for (a ``TickConfig`` or a ScheduleConfig)."""
    if tick_config is None:
        return schedule_config
    if schedule_config is not None:
        raise ValueError(f"agent {agent_id!r}: give schedule_config or tick_config, not both")
    config = getattr(tick_config, "schedule_config", tick_config)
    if not isinstance(config, ScheduleConfig):
        raise ValueError(f"agent {agent_id!r}: tick_config must be a TickConfig or ScheduleConfig, got {tick_config!r}")
    return config


def space_as_action(action: Any, space: gym.Space, agent_id: str) -> None:
    """Declare ``action``'s specs from an earlier ``action_space=``: a Box is the continuous part,
    a Discrete or MultiDiscrete the discrete part."""
    if isinstance(space, gym.spaces.Box):
        action.set_specs(dim_c=int(np.prod(space.shape)), range=(space.low.ravel(), space.high.ravel()))
    elif isinstance(space, gym.spaces.Discrete):
        action.set_specs(dim_d=1, ncats=[int(space.n)])
    elif isinstance(space, gym.spaces.MultiDiscrete):
        action.set_specs(dim_d=len(space.nvec), ncats=[int(n) for n in space.nvec])
    else:
        raise ValueError(f"agent {agent_id!r}: action_space must be a Box, Discrete or MultiDiscrete, got {space!r}")


class EarlierAgentAPI:
    """Mixin of :class:`heron.agents.base.Agent`: the earlier names and messaging helpers."""

    agent_id: str
    broker: Any
    timestamp: float
    upstream_id: str | None
    schedule_config: ScheduleConfig

    @property
    def _timestep(self) -> float:
        return self.timestamp

    @_timestep.setter
    def _timestep(self, t: float) -> None:
        self.timestamp = float(t)

    @property
    def _message_broker(self) -> Any:
        return self.broker

    @_message_broker.setter
    def _message_broker(self, broker: Any) -> None:
        self.broker = broker

    @property
    def observation_space(self) -> gym.Space | None:
        """As given (``observation_space=``), else the agent's own (a field agent's state), else None."""
        given = self.__dict__.get("_observation_space")
        return given if given is not None else self._default_observation_space()

    @observation_space.setter
    def observation_space(self, space: gym.Space | None) -> None:
        self._observation_space = space

    def _default_observation_space(self) -> gym.Space | None:
        return None

    def update_timestep(self, timestep: float) -> None:
        self.timestamp = float(timestep)

    @property
    def tick_config(self) -> Any:
        """The timing as given (an earlier ``TickConfig``), or else the ``schedule_config``."""
        given = getattr(self, "_tick_config", None)
        return given if given is not None and given.schedule_config is self.schedule_config else self.schedule_config

    def enable_jitter(self, jitter_type: JitterType | str = JitterType.GAUSSIAN, jitter_ratio: float = 0.1,
                      seed: int | None = None) -> None:
        self.schedule_config = ScheduleConfig.with_jitter(
            self.tick_interval, self.obs_delay, self.act_delay, self.msg_delay, jitter_type, jitter_ratio,
            self.schedule_config.min_delay, seed)

    def disable_jitter(self) -> None:
        self.schedule_config = self.schedule_config.replace(jitter_type=JitterType.NONE, jitter_ratio=0.0)

    def _required_broker(self) -> Any:
        if self.broker is None:
            raise RuntimeError(f"agent {self.agent_id!r} has no message broker configured; call set_message_broker() first")
        return self.broker

    def send_message(self, content: Mapping[str, Any], recipient_id: str, message_type: MessageType | str = "INFO") -> None:
        """Publish ``content`` to ``recipient_id`` on the info channel from this agent."""
        broker = self._required_broker()
        if not isinstance(content, Mapping):
            raise ValueError(f"agent {self.agent_id!r}: a message's content must be a dict, got {content!r}")
        channel = ChannelManager.info_channel(self.agent_id, recipient_id, self.env_id)
        broker.publish(channel, Message(self.env_id, self.agent_id, recipient_id, self.timestamp, message_type, dict(content)))

    def receive_messages(self, sender_id: str | None = None, clear: bool = True) -> list[dict[str, Any]]:
        """Payloads sent to this agent by ``sender_id`` (default: its upstream); [] without a broker."""
        sender_id = sender_id or self.upstream_id
        if self.broker is None or sender_id is None:
            return []
        channel = ChannelManager.info_channel(sender_id, self.agent_id, self.env_id)
        return [m.payload for m in self.broker.consume(channel, self.agent_id, self.env_id, clear)]

    def send_action_to_subordinate(self, recipient_id: str, action: Any) -> None:
        """A setpoint for ``recipient_id``, read by its ``receive_commands`` (or ``receive_action_messages``)."""
        broker = self._required_broker()
        channel = ChannelManager.action_channel(self.agent_id, recipient_id, self.env_id)
        broker.publish(channel, Message(self.env_id, self.agent_id, recipient_id, self.timestamp, MessageType.ACTION,
                                        {"setpoint": action}))

    def receive_action_messages(self, sender_id: str | None = None, clear: bool = True) -> list[Any]:
        """The setpoints sent to this agent by ``sender_id`` (default: its upstream), oldest first."""
        sender_id = sender_id or self.upstream_id
        if self.broker is None or sender_id is None:
            return []
        channel = ChannelManager.action_channel(sender_id, self.agent_id, self.env_id)
        return [m.payload["setpoint"] for m in self.broker.consume(channel, self.agent_id, self.env_id, clear)
                if "setpoint" in m.payload]


@dataclass
class FieldConfig:
    """The earlier field agent's config record (read from ``config`` as ``agent.field_config``)."""

    name: str
    state_config: dict[str, Any]
    discrete_action: bool
    discrete_action_cats: int


class EarlierFieldAPI:
    """Mixin of :class:`heron.agents.field_agent.FieldAgent`."""

    config: dict[str, Any]

    @property
    def field_config(self) -> FieldConfig:
        cfg = self.config
        return FieldConfig(str(cfg.get("name", self.agent_id)), dict(cfg.get("state_config", {})),  # type: ignore[attr-defined]
                           bool(cfg.get("discrete_action", False)), int(cfg.get("discrete_action_cats", 2)))

    def _get_action_space(self) -> gym.Space:
        return self.action.space  # type: ignore[attr-defined]

    def _get_observation_space(self) -> gym.spaces.Box:
        """An unbounded Box the size of the state's (owner) vector."""
        size = self.state.vector().size  # type: ignore[attr-defined]
        return gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)

    _default_observation_space = _get_observation_space

    def _handle_coordinator_action(self, action: Any, obs: Any = None) -> np.ndarray:
        return self.action.set_values(action).vector()  # type: ignore[attr-defined]

    def _handle_local_action(self, obs: Any = None) -> np.ndarray:
        return self.action.set_values(self._decide(obs)).vector()  # type: ignore[attr-defined]


class EarlierCoordinatorAPI:
    """Mixin of :class:`heron.agents.coordinator_agent.CoordinatorAgent`."""

    agent_id: str
    subordinates: dict[str, Any]
    config: dict[str, Any]

    def _build_subordinate_agents(self, agent_configs: list[Mapping[str, Any]], env_id: str | None = None,
                                  upstream_id: str | None = None) -> dict[str, Any]:
        """The earlier hook: subordinates from ``config['agents']``. A coordinator given such a
        config must say how to build them."""
        raise ValueError(f"agent {self.agent_id!r}: config['agents'] given, but {type(self).__name__} does not "
                         "override _build_subordinate_agents(agent_configs, env_id, upstream_id) to build them")

    def _add_configured(self, key: str, build: Any) -> None:
        configs = self.config.get(key)
        if not configs:
            return
        if not isinstance(configs, (list, tuple)):
            raise ValueError(f"agent {self.agent_id!r}: config[{key!r}] must be a list of dicts, got {configs!r}")
        built = build(list(configs), env_id=self.env_id, upstream_id=self.agent_id)
        for agent in (built.values() if isinstance(built, Mapping) else built):
            self.add_subordinate(agent)

    def get_subordinate_action_spaces(self) -> dict[str, gym.Space]:
        return {sid: sub.action_space for sid, sub in self.subordinates.items()}

    def get_joint_action_space(self) -> gym.Space:
        """The subordinates' continuous parts as one Box (Discrete(1) when there are none, as before)."""
        lows = [sub.action.low for sub in self.subordinates.values() if sub.action.dim_c]
        highs = [sub.action.high for sub in self.subordinates.values() if sub.action.dim_c]
        if not lows:
            return gym.spaces.Discrete(1)
        return gym.spaces.Box(np.concatenate(lows).astype(np.float32), np.concatenate(highs).astype(np.float32), dtype=np.float32)


class EarlierSystemAPI(EarlierCoordinatorAPI):
    """Mixin of :class:`heron.agents.system_agent.SystemAgent`: its coordinators."""

    @property
    def coordinators(self) -> dict[str, Any]:
        return self.subordinates

    def _build_coordinators(self, coordinator_configs: list[Mapping[str, Any]], env_id: str | None = None,
                            upstream_id: str | None = None) -> dict[str, Any]:
        raise ValueError(f"agent {self.agent_id!r}: config['coordinators'] given, but {type(self).__name__} does not "
                         "override _build_coordinators(coordinator_configs, env_id, upstream_id) to build them")

    def update_from_environment(self, env_state: Mapping[str, Any]) -> None:
        """The earlier hook for what the environment tells the operator; override it to use it."""
        raise NotImplementedError(f"{type(self).__name__} does not override update_from_environment")

    def get_state_for_environment(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not override get_state_for_environment")

    def filter_state_for_agent(self, state: Any, requestor_id: str, requestor_level: int) -> dict[str, Any]:
        """What ``requestor_id`` at ``requestor_level`` may see of ``state`` (an earlier-style state)."""
        return state.observed_by(requestor_id, requestor_level)

    def broadcast_to_coordinators(self, message: Mapping[str, Any]) -> None:
        """Publish ``message`` on this agent's broadcast channel (read by its coordinators)."""
        broker = self._required_broker()  # type: ignore[attr-defined]
        channel = ChannelManager.broadcast_channel(self.agent_id, self.env_id)  # type: ignore[attr-defined]
        broker.publish(channel, Message(self.env_id, self.agent_id, "broadcast", self.timestamp,  # type: ignore[attr-defined]
                                        MessageType.BROADCAST, dict(message)))
