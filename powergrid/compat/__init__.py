"""Adapters for code written against the earlier PowerGrid, gathered in one place.

- ``config_keys``: device configs in the earlier keys (``p_max_MW``, ``device_state_config``...)
  translated into ours when the model is built;
- ``env_api``: what the earlier env offered beside PettingZoo (``env.dso``, ``env._day``,
  ``actionable_agents``, CTDE metrics, ``{"__all__": done}`` flags), mixed into the env;
- ``penalties``: the earlier cost and safety helpers (``powergrid.utils.cost``, ``.safety``);
- ``proxy_agent``: the broker-fed state proxy of distributed mode.

The earlier module paths are alias modules that only re-export from here; every difference
from the earlier behaviour is in ``docs/compatibility.md``.
"""
