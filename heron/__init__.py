"""HERON: hierarchical multi-agent control with centralized, distributed and event-driven execution.

Subpackages: ``core`` (actions, observations, features), ``agents``, ``protocols``,
``messaging``, ``scheduling``, ``envs``; ``_fast`` holds the Numba kernels.
"""

__version__ = "0.1.0"
