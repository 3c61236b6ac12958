"""The agent base class: identity, place in the hierarchy, timing, state, action and policy."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from heron.compat.agents import EarlierAgentAPI, space_as_action, timing_of
from heron.core.action import Action, all_finite
from heron.core.features import FeatureProvider, State
from heron.core.observation import Observation
from heron.core.policies import Policy, reset_policy
from heron.messaging.base import MessageBroker
from heron.messaging.channels import ChannelManager
from heron.protocols.base import Protocol
from heron.scheduling.config import ScheduleConfig, resolve_timing

__all__ = ["Agent", "FIELD_LEVEL", "COORDINATOR_LEVEL", "SYSTEM_LEVEL", "NothingToAct"]

FIELD_LEVEL = 1
COORDINATOR_LEVEL = 2
SYSTEM_LEVEL = 3


class NothingToAct(ValueError, RuntimeError):
    """An agent asked to act with neither a setpoint nor a policy (a ValueError here, a
    RuntimeError in the earlier HERON: both catch it)."""


class Agent(EarlierAgentAPI):
    """An agent at some level of the hierarchy.

    It owns a :class:`State` (features with visibility tags) and an :class:`Action`; a policy
    maps its observation to an action. ``upstream_id`` names its coordinator; ``subordinates``
    are the agents it directs. Timing (``tick_interval`` and delays) comes from the keywords or
    from one ``schedule_config``, not both. ``distributed`` is set when the agent runs behind a
    :class:`~heron.agents.proxy.Proxy`: it then reaches its subordinates through the broker.
    The earlier keywords ``tick_config``, ``action_space`` and ``observation_space`` are taken
    too (see :mod:`heron.compat.agents`).
    """

    level: int = 0
    default_tick_interval: float = 1.0

    def __init__(
        self,
        agent_id: str,
        policy: Policy | None = None,
        protocol: Protocol | None = None,
        upstream_id: str | None = None,
        subordinates: Mapping[str, "Agent"] | Iterable["Agent"] | None = None,
        env_id: str | None = None,
        broker: MessageBroker | None = None,
        message_broker: MessageBroker | None = None,
        tick_interval: float | None = None,
        obs_delay: float | None = None,
        act_delay: float | None = None,
        msg_delay: float | None = None,
        schedule_config: ScheduleConfig | None = None,
        *,
        state: State | Iterable[FeatureProvider] | None = None,
        action: Action | None = None,
        config: Mapping[str, Any] | None = None,
        level: int | None = None,
        tick_config: Any = None,
        action_space: Any = None,
        observation_space: Any = None,
    ) -> None:
        if not isinstance(agent_id, str) or not agent_id:
            raise ValueError(f"agent_id must be a non-empty string, got {agent_id!r}")
        self.agent_id = agent_id
        if level is not None:  # the earlier HERON passed the hierarchy level to the constructor
            if isinstance(level, bool) or not isinstance(level, int) or level < 0:
                raise ValueError(f"agent {agent_id!r}: level must be a non-negative whole number, got {level!r}")
            self.level = level
        if policy is not None and not callable(getattr(policy, "forward", None)):
            raise ValueError(f"agent {agent_id!r}: policy must have a forward(obs) method, got {policy!r}")
        self.policy = policy
        self.protocol = protocol
        self.upstream_id = upstream_id
        self.subordinates: dict[str, Agent] = {}
        self.env_id = env_id or "default"
        if broker is not None and message_broker is not None and broker is not message_broker:
            raise ValueError(f"agent {agent_id!r}: pass broker or message_broker, not two different brokers")
        self.broker = broker if broker is not None else message_broker
        self._tick_config = tick_config
        schedule_config = timing_of(agent_id, tick_config, schedule_config)
        self.schedule_config = resolve_timing(agent_id, schedule_config, self.default_tick_interval, tick_interval=tick_interval,
                                              obs_delay=obs_delay, act_delay=act_delay, msg_delay=msg_delay)
        if state is None:
            state = State(agent_id)
        elif not isinstance(state, State):
            state = State(agent_id, state)
        self.state = state
        self.action = action if action is not None else Action()
        self.action.owner = f"agent {agent_id!r}"
        self._observation_space = observation_space  # the earlier keyword (this package's envs declare spaces)
        for sub in (subordinates.values() if isinstance(subordinates, Mapping) else subordinates or ()):
            self.add_subordinate(sub)
        self.distributed = False
        self.timestamp = 0.0
        self.upstream_signal: dict[str, Any] = {}
        self._rng = np.random.default_rng()
        self._command_channels: dict[tuple[str, str], tuple[str, str]] = {}
        if config is not None and not isinstance(config, Mapping):
            raise ValueError(f"agent {agent_id!r}: config must be a dict, got {config!r}")
        self.config = dict(config or {})  # what the agent was configured with; subclasses read it
        self.set_action()
        if action_space is not None:  # the keyword wins over the class's own declaration
            space_as_action(self.action, action_space, agent_id)
        self.set_state()

    # ----------------------------------------------------- subclass hooks
    def set_action(self) -> None:
        """Declare the action (``self.action.set_specs(...)``): called once, at construction."""

    def set_state(self) -> None:
        """Declare the state's features: called once, at construction, after ``set_action``."""

    def _get_obs(self) -> np.ndarray | None:
        """A subclass's own observation vector (``observe()`` puts it in ``local['state']``); None: none."""
        return None

    # ----------------------------------------------------------------- wiring
    def add_subordinate(self, agent: "Agent") -> None:
        if not isinstance(agent, Agent):
            raise ValueError(f"agent {self.agent_id!r}: subordinates must be Agent objects, got {agent!r}")
        if agent.agent_id in self.subordinates:
            raise ValueError(f"agent {self.agent_id!r} already has a subordinate {agent.agent_id!r}")
        if agent.upstream_id not in (None, self.agent_id):
            raise ValueError(f"agent {agent.agent_id!r} already reports to {agent.upstream_id!r}, not {self.agent_id!r}")
        agent.upstream_id = self.agent_id
        agent.env_id = self.env_id
        self.subordinates[agent.agent_id] = agent

    @property
    def env_id(self) -> str:
        return self._env_id

    @env_id.setter
    def env_id(self, env_id: str) -> None:
        """A hierarchy lives in one environment: setting it here sets it below too."""
        self._env_id = env_id
        for sub in self.subordinates.values():
            sub.env_id = env_id

    @property
    def message_broker(self) -> MessageBroker | None:
        return self.broker

    @message_broker.setter
    def message_broker(self, broker: MessageBroker | None) -> None:
        self.broker = broker

    def set_message_broker(self, broker: MessageBroker | None) -> None:
        """Use ``broker`` for this agent and every agent below it."""
        for agent in self.iter_agents():
            agent.broker = broker

    @property
    def tick_interval(self) -> float:
        return self.schedule_config.tick_interval

    @property
    def obs_delay(self) -> float:
        return self.schedule_config.obs_delay

    @property
    def act_delay(self) -> float:
        return self.schedule_config.act_delay

    @property
    def msg_delay(self) -> float:
        return self.schedule_config.msg_delay

    @property
    def action_space(self):
        return self.action.space

    @action_space.setter
    def action_space(self, space: Any) -> None:
        """Declare the action from a Box (continuous) or a (Multi)Discrete space, the earlier way."""
        space_as_action(self.action, space, self.agent_id)

    def roles_toward(self, owner: "Agent") -> tuple[str, ...]:
        """The viewer roles this agent has toward ``owner``'s state (see heron.core.features)."""
        if owner is self:
            return ("owner",)
        roles = []
        if owner.upstream_id == self.agent_id:
            roles.append("coordinator")
        if self.level >= SYSTEM_LEVEL:
            roles.append("system")
        return tuple(roles) or ("public",)

    def iter_agents(self) -> Iterable["Agent"]:
        """This agent and everything below it, depth first."""
        yield self
        for sub in self.subordinates.values():
            yield from sub.iter_agents()

    # ------------------------------------------------------------- lifecycle
    def reset(self, seed: int | None = None) -> None:
        """Restore initial state and time; seeds this agent and (spawned) its subordinates."""
        seq = np.random.SeedSequence(seed)
        self._rng = np.random.default_rng(seq)
        self.state.reset()
        self.action.c[:] = np.clip(0.0, self.action.low, self.action.high)
        self.action.d[:] = 0
        self.timestamp = 0.0
        self.upstream_signal = {}
        if self.policy is not None:
            reset_policy(self.policy, seed)
        if self.protocol is not None and callable(getattr(self.protocol, "reset", None)):
            self.protocol.reset()
        children = seq.spawn(len(self.subordinates))
        for child_seq, sub in zip(children, self.subordinates.values()):
            sub.reset(seed=int(child_seq.generate_state(1)[0]) if seed is not None else None)

    def observe(self, global_state: Mapping[str, Any] | None = None) -> Observation:
        """Own features (owner's view), what subordinates show their coordinator, and ``global_state``."""
        local: dict[str, Any] = self.state.observed_by("owner")
        vector = self._get_obs()
        if vector is not None:
            local["state"] = vector
        if self.subordinates:
            local["subordinates"] = {
                sid: sub.state.observed_by(self.roles_toward(sub)) for sid, sub in self.subordinates.items()
            }
        return Observation(local, dict(global_state) if global_state else {}, self.timestamp)

    def _decide(self, obs: Observation | None) -> Any:
        if self.policy is None:
            raise NothingToAct(f"No action or policy for agent {self.agent_id!r}: No policy defined and no upstream action "
                               "received; give it a policy (agent.policy = ...) or send it a setpoint")
        return self.policy.forward(obs if obs is not None else self.observe())

    def _own_action(self, obs: Observation | None, upstream_action: Any) -> np.ndarray | None:
        """Set ``self.action`` from a setpoint, or else from the policy; None when it holds.

        A dict other than ``{'c': ..., 'd': ...}`` is a signal (e.g. ``{'price': 52.0}``): it is
        remembered in ``upstream_signal`` and the policy decides; an agent without a policy
        holds its action on a signal. With neither setpoint, signal nor policy it is an error.
        """
        if type(upstream_action) is np.ndarray:  # the common case: a setpoint vector
            return self.action.set_values(upstream_action).vector()
        signal = isinstance(upstream_action, Mapping) and not _is_action_dict(upstream_action)
        if signal:
            self.upstream_signal.update(upstream_action)
            upstream_action = None
        if upstream_action is not None:
            self.action.set_values(upstream_action)
        elif self.policy is not None and self.action.dim:
            self.action.set_values(self._decide(obs))
        elif self.action.dim:
            if signal:
                return None
            self._decide(obs)  # raises: nothing to act on
        return self.action.vector()

    def act(self, obs: Observation | None = None, upstream_action: Any = None) -> np.ndarray:
        """Choose (or accept) this agent's action; returns it as a flat vector."""
        vector = self._own_action(obs, upstream_action)
        return self.action.vector() if vector is None else vector

    def report(self) -> dict[str, Any]:
        """What this agent tells its upstream besides its action (distributed mode); nothing by default."""
        return {}

    refused_commands = 0  # setpoints refused: not numbers, not finite, or not this agent's action size
    command_time = -float("inf")  # the timestamp of the setpoint last taken

    def _acceptable(self, setpoint: Any) -> bool:
        """Whether a setpoint can be executed: a finite number vector of this agent's action
        size (an action dict ``{'c': ..., 'd': ...}`` is checked by ``Action.set_values``)."""
        if type(setpoint) is np.ndarray:  # the common case
            return setpoint.size == self.action.dim and setpoint.dtype.kind in "fiu" and all_finite(setpoint)
        if isinstance(setpoint, Mapping):
            return True
        values = np.asarray(setpoint, dtype=object)
        if values.dtype == object:
            try:
                values = values.astype(np.float64)
            except (TypeError, ValueError):
                return False
        return values.size == self.action.dim and values.dtype.kind in "fiu" and all_finite(values)

    def receive_commands(self, upstream_id: str | None = None) -> Any:
        """Consume what the upstream sent since the last call: returns the latest setpoint (or
        None) and merges signals (e.g. a price) into ``upstream_signal``, in arrival order.

        Reads ``action_channel(upstream, self)`` and the upstream's broadcast channel. Earlier
        setpoints are superseded by the latest, as an actuator's would be.
        """
        upstream_id = upstream_id or self.upstream_id
        broker = self.broker
        if broker is None or upstream_id is None:
            return None
        env_id = self._env_id
        channels = self._command_channels.get((upstream_id, env_id))
        if channels is None:  # spelled once per upstream: this runs every distributed step
            channels = self._command_channels[(upstream_id, env_id)] = (
                ChannelManager.action_channel(upstream_id, self.agent_id, env_id), ChannelManager.broadcast_channel(upstream_id, env_id))
        messages = broker.consume(channels[0], self.agent_id, env_id)
        announced = broker.consume(channels[1], self.agent_id, env_id)
        if announced:
            messages += announced
        setpoint = None
        for msg in messages:
            payload = msg.payload
            if "setpoint" in payload:
                if self._acceptable(payload["setpoint"]):
                    setpoint, self.command_time = payload["setpoint"], msg.timestamp
                else:  # an actuator refuses a command it cannot execute, and keeps the last one
                    self.refused_commands += 1
                if len(payload) == 1:
                    continue
            signals = {k: v for k, v in payload.items() if k != "setpoint"}
            if signals:
                self.upstream_signal.update(signals)
        return setpoint

    def tick(self, scheduler: Any, current_time: float, global_state: Mapping[str, Any] | None = None) -> np.ndarray | None:
        """Event-driven decision, once the tick's observation is ready: read commands from the
        broker, observe, decide, and have the action take effect after the (jittered) ``act_delay``.

        Returns the action, or None when the agent holds: no setpoint and no policy (a
        coordinator too, as the earlier HERON's did), or a signal only.
        """
        self.timestamp = current_time
        setpoint = self.receive_commands()
        nothing_to_decide = self.policy is None or not self.action.dim
        if setpoint is None and nothing_to_decide and (self.action.dim or not self.subordinates):
            return None  # hold (a coordinator without an action of its own still runs its protocol)
        action = self._own_action(self.observe(global_state), setpoint)
        if action is not None:
            scheduler.schedule_action_effect(self.agent_id, action)
        return action

    #: what the subordinates are called in ``repr`` (a system agent's are its coordinators)
    subordinates_label = "subordinates"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.agent_id!r}, level={self.level}, {self.subordinates_label}={len(self.subordinates)})"


def _is_action_dict(value: Mapping[str, Any]) -> bool:
    return bool(value) and set(value) <= {"c", "d"}
