"""Channel naming: one place decides how topics are spelled, so every broker agrees."""
from __future__ import annotations

__all__ = ["ChannelManager"]


def _checked(**parts: str) -> None:
    """Every part of a channel name must be a non-empty string, and the env id free of ``__``
    (which separates the parts: ``env_of`` reads the env id up to the first one)."""
    for what, value in parts.items():
        if not isinstance(value, str) or not value:
            raise ValueError(f"channel {what} must be a non-empty string, got {value!r}")
    if "__" in parts["env_id"]:
        raise ValueError(f"channel env_id must not contain '__' (it separates a channel name's parts), got {parts['env_id']!r}")


class ChannelManager:
    """Static helpers that spell channel names as ``env_{env_id}__{kind}__{...}``."""

    @staticmethod
    def action_channel(upstream_id: str, node_id: str, env_id: str) -> str:
        """Commands from ``upstream_id`` down to ``node_id``."""
        _checked(upstream_id=upstream_id, node_id=node_id, env_id=env_id)
        return f"env_{env_id}__action__{upstream_id}_to_{node_id}"

    @staticmethod
    def info_channel(node_id: str, upstream_id: str, env_id: str) -> str:
        """Reports from ``node_id`` up to ``upstream_id``."""
        _checked(node_id=node_id, upstream_id=upstream_id, env_id=env_id)
        return f"env_{env_id}__info__{node_id}_to_{upstream_id}"

    @staticmethod
    def agent_channels(agent_id: str, upstream_id: str | None, subordinate_ids: list[str], env_id: str) -> dict[str, list[str]]:
        """The channels an agent reads (``'subscribe'``: commands from its upstream, reports from
        its subordinates) and writes (``'publish'``: its report up, commands down)."""
        up = [] if upstream_id is None else [upstream_id]
        return {
            "subscribe": [ChannelManager.action_channel(u, agent_id, env_id) for u in up]
            + [ChannelManager.info_channel(s, agent_id, env_id) for s in subordinate_ids],
            "publish": [ChannelManager.info_channel(agent_id, u, env_id) for u in up]
            + [ChannelManager.action_channel(agent_id, s, env_id) for s in subordinate_ids],
        }

    @staticmethod
    def broadcast_channel(agent_id: str, env_id: str) -> str:
        """One-to-many announcements of ``agent_id`` (e.g. a price)."""
        _checked(agent_id=agent_id, env_id=env_id)
        return f"env_{env_id}__broadcast__{agent_id}"

    @staticmethod
    def state_update_channel(env_id: str) -> str:
        """Device state updates flowing to the environment."""
        _checked(env_id=env_id)
        return f"env_{env_id}__state_updates"

    @staticmethod
    def power_flow_result_channel(env_id: str, agent_id: str) -> str:
        """Network results the environment publishes for one agent."""
        _checked(env_id=env_id, agent_id=agent_id)
        return f"env_{env_id}__power_flow_results__{agent_id}"

    result_channel = power_flow_result_channel  # the earlier HERON's name

    @staticmethod
    def custom_channel(kind: str, env_id: str, agent_id: str) -> str:
        """Any other kind of traffic, e.g. ``'p2p'`` or ``'consensus'``."""
        _checked(kind=kind, env_id=env_id, agent_id=agent_id)
        return f"env_{env_id}__{kind}__{agent_id}"

    @staticmethod
    def env_of(channel: str) -> str | None:
        """The env id a channel name carries, or None for a channel outside the convention."""
        if not isinstance(channel, str):
            raise ValueError(f"channel must be a string, got {channel!r}")
        if not channel.startswith("env_"):
            return None
        env_id, sep, _ = channel[4:].partition("__")
        return env_id if sep else None
