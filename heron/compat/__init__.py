"""Adapters for code written against the earlier HERON: its contracts that this package's real
classes do not have themselves, gathered in one place.

- ``agents``: the earlier agent methods (``send_message``, ``_timestep``, ``tick_config``,
  subordinates from ``config['agents']``...), mixed into the real agent classes;
- ``envs``: ``HeronEnvCore``, ``MultiAgentEnv``, ``BaseEnv``;
- ``feature``, ``state``: dataclass features and the list-based agent state;
- ``proxy_agent``: the state proxy with history and visibility rules;
- ``scheduling``: the earlier ``Event`` defaults and the self-drawing ``TickConfig``;
- ``utils``: ``AgentID`` and the small array helpers.

The earlier module paths (``heron.core.state``, ``heron.scheduling.event``, ``heron.utils``...)
are alias modules that only re-export from here; every difference from the earlier behaviour
is in ``docs/compatibility.md``.
"""
