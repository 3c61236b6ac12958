"""The earlier ``heron.agents.proxy_agent``: an agent that keeps the environment's state and hands
each agent what it may see of it.

This package's distributed mode puts a :class:`heron.agents.proxy.Proxy` in front of each
agent instead; the earlier proxy was one agent for all, with a state cache, a time-stamped
history (for delayed observations) and per-agent visibility rules by key.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any

from heron.agents.base import Agent
from heron.core.observation import Observation
from heron.messaging.base import Message, MessageType
from heron.messaging.channels import ChannelManager

__all__ = ["ProxyAgent", "PROXY_LEVEL"]

PROXY_LEVEL = 3


class ProxyAgent(Agent):
    """The environment's state as the agents may see it: ``state_cache`` (the latest), and
    ``state_history`` (``{'timestamp', 'state'}`` entries, the last ``history_length``)."""

    level = PROXY_LEVEL
    #: the channel kind the environment sends its state on: ``custom_channel(kind, env, proxy)``
    result_channel_type = "state"

    def __init__(self, agent_id: str = "proxy_agent", env_id: str | None = None,
                 subordinate_agents: Iterable[str] | None = None, visibility_rules: Mapping[str, list[str]] | None = None,
                 history_length: int = 100, **kwargs: Any) -> None:
        if isinstance(history_length, bool) or not isinstance(history_length, int) or history_length < 1:
            raise ValueError(f"history_length must be a positive whole number, got {history_length!r}")
        super().__init__(agent_id, env_id=env_id, **kwargs)
        self.subordinate_agents: list[str] = []
        for sid in subordinate_agents or ():
            self.register_subordinate(sid)
        self.visibility_rules: dict[str, list[str]] = {k: list(v) for k, v in (visibility_rules or {}).items()}
        self.history_length = history_length
        self.state_cache: dict[str, Any] = {}
        self.state_history: list[dict[str, Any]] = []

    def update_state(self, state: Mapping[str, Any]) -> None:
        """Keep ``state`` as the latest, stamped with this agent's time."""
        if not isinstance(state, Mapping):
            raise ValueError(f"proxy {self.agent_id!r}: a state must be a dict, got {state!r}")
        self.state_cache = state  # type: ignore[assignment]
        self.state_history.append({"timestamp": self.timestamp, "state": state})
        del self.state_history[:-self.history_length]

    def get_state_at_time(self, target_time: float) -> dict[str, Any]:
        """The state as it was at ``target_time``: the last entry stamped no later (the first entry
        if all are later; the cache when there is no history)."""
        if not self.state_history:
            return self.state_cache
        times = [entry["timestamp"] for entry in self.state_history]
        i = bisect.bisect_right(times, target_time) - 1
        return self.state_history[max(i, 0)]["state"]

    def _filter_state_for_agent(self, agent_id: str, agent_state: Mapping[str, Any]) -> dict[str, Any]:
        """The keys of ``agent_state`` that ``agent_id``'s visibility rule lists (all without a rule)."""
        rule = self.visibility_rules.get(agent_id)
        if rule is None:
            return dict(agent_state)
        return {key: agent_state[key] for key in rule if key in agent_state}

    def get_latest_state_for_agent(self, agent_id: str) -> dict[str, Any]:
        return self._filter_state_for_agent(agent_id, self.state_cache.get("agents", {}).get(agent_id, {}))

    def get_state_for_agent(self, agent_id: str, requestor_level: int, owner_id: str | None = None,
                            owner_level: int | None = None, state: Any = None, at_time: float | None = None) -> dict[str, Any]:
        """What ``agent_id`` may see of ``owner_id``'s entry (default: its own), now or at
        ``at_time``; with an earlier-style ``state``, only the features it may observe."""
        owner_id = owner_id or agent_id
        owner_level = requestor_level if owner_level is None else owner_level
        base = self.get_state_at_time(at_time) if at_time is not None else self.state_cache
        filtered = self._filter_state_for_agent(agent_id, (base or {}).get("agents", {}).get(owner_id, {}))
        if state is None:
            return filtered
        seen = self.get_observable_features(agent_id, requestor_level, owner_id, owner_level, state)
        return {name: filtered[name] for name in seen if name in filtered}

    @staticmethod
    def get_observable_features(requestor_id: str, requestor_level: int, owner_id: str, owner_level: int,
                                state: Any) -> list[str]:
        return [f.feature_name for f in state.features if f.is_observable_by(requestor_id, requestor_level, owner_id, owner_level)]

    def receive_state_from_environment(self) -> dict[str, Any] | None:
        """Take the newest state the environment sent (older ones are superseded); None if none came."""
        if self.broker is None:
            return None
        channel = ChannelManager.custom_channel(self.result_channel_type, self.env_id, self.agent_id)
        messages = self.broker.consume(channel, self.agent_id, self.env_id)
        if not messages:
            return None
        self.update_state(messages[-1].payload)
        return self.state_cache

    def distribute_state_to_agents(self) -> None:
        """Send each registered agent its entry of the cached state, filtered by its rule
        (an agent without an entry is sent an empty dict); nothing while the cache is empty."""
        if self.broker is None or not self.state_cache:
            return
        entries = self.state_cache.get("agents", {})
        for sid in self.subordinate_agents:
            channel = ChannelManager.info_channel(self.agent_id, sid, self.env_id)
            payload = self._filter_state_for_agent(sid, entries.get(sid, {}))
            self.broker.publish(channel, Message(self.env_id, self.agent_id, sid, self.timestamp, MessageType.INFO, payload))

    def register_subordinate(self, agent_id: str) -> None:
        if agent_id not in self.subordinate_agents:
            self.subordinate_agents.append(agent_id)

    def set_visibility_rules(self, agent_id: str, allowed_keys: Iterable[str]) -> None:
        self.visibility_rules[agent_id] = list(allowed_keys)

    def observe(self, global_state: Mapping[str, Any] | None = None) -> Observation:
        return Observation({}, dict(global_state or {}), self.timestamp)

    def act(self, obs: Observation | None = None, upstream_action: Any = None) -> None:
        """A proxy relays state; it takes no action."""

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.state_cache = {}
        self.state_history = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.agent_id!r}, subordinates={len(self.subordinate_agents)})"
