"""The constructors PettingZoo and Gymnasium users look for.

- :func:`parallel_env` and :func:`env`: PettingZoo's module-level factories (the parallel env
  and its AEC view), on the task ``load_setup(setup)`` describes;
- ``gymnasium.make("powergrid/MultiAgentMicrogrids-single-v0", agent_id="MG1")``: one
  microgrid as a Gymnasium env (:class:`~powergrid.envs.wrappers.MultiAgentToSingleAgent`),
  registered when :mod:`powergrid.envs` is imported.

Keyword arguments other than ``setup`` are config keys, merged over the setup's config.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from powergrid.envs.multi_agent_microgrids import MultiAgentMicrogrids
from powergrid.envs.wrappers import MultiAgentToSingleAgent, OtherPolicy
from powergrid.setups import load_setup

__all__ = ["env", "parallel_env", "single_agent_env", "SINGLE_AGENT_ID"]

SINGLE_AGENT_ID = "powergrid/MultiAgentMicrogrids-single-v0"


def parallel_env(setup: str = "ieee34_ieee13", config: Mapping[str, Any] | None = None, render_mode: str | None = None,
                 **overrides: Any) -> MultiAgentMicrogrids:
    """The PettingZoo ``ParallelEnv`` of ``setup`` (its episode length, reward sharing and
    penalty), with ``config`` and then ``overrides`` merged over its config."""
    return MultiAgentMicrogrids({**load_setup(setup), **dict(config or {}), **overrides}, render_mode=render_mode)


def env(setup: str = "ieee34_ieee13", config: Mapping[str, Any] | None = None, render_mode: str | None = None,
        **overrides: Any):
    """The same env as PettingZoo's AEC (agent-by-agent) API, for AEC-only tools."""
    from pettingzoo.utils.conversions import parallel_to_aec

    return parallel_to_aec(parallel_env(setup, config, render_mode, **overrides))


def single_agent_env(agent_id: str = "MG1", setup: str = "ieee34_ieee13", config: Mapping[str, Any] | None = None,
                     other_policies: Mapping[str, OtherPolicy] | None = None, render_mode: str | None = None,
                     **overrides: Any) -> MultiAgentToSingleAgent:
    """One microgrid of ``setup`` as a Gymnasium env; the others follow ``other_policies`` or
    hold the zero action."""
    return MultiAgentToSingleAgent(parallel_env(setup, config, render_mode, **overrides), agent_id, other_policies)


if SINGLE_AGENT_ID not in gym.registry:
    gym.register(SINGLE_AGENT_ID, entry_point=single_agent_env, disable_env_checker=True)
