"""The env's config: its keys, their defaults, and the checks that name what is wrong.

Keys (unknown ones raise ``ValueError`` listing the valid ones): ``centralized``,
``message_broker`` (``'in_memory'``, a MessageBroker or None), ``max_episode_steps``, ``train``
(random days of the train split, else consecutive days of the test split), ``share_reward``,
``penalty``, ``convergence_failure_reward``, ``convergence_failure_safety``, ``env_id``,
``setup`` (embedded setup, default ``ieee34_ieee13``), ``dataset_path`` (your own profiles: a
pickle in the earlier format or ``.npz``), ``dso_config`` (overrides for the operator network),
``microgrid_configs`` (``{name, connection_bus, load_area, renew_area, base_power, load_scale,
devices}``; device types and their keys in :mod:`powergrid.agents.registry`),
``sell_price_ratio`` (export price over import price), ``power_flow_backend``
(``'lightsim2grid'`` or ``'pandapower'``), ``env_update_interval`` (event-driven mode:
seconds between power flows, or None for a power flow at every device action effect) and
``description`` (free text, as ``load_setup`` returns it; the env does not read it) and
``stored_energy_value`` (what the energy storage holds at the end of an episode beyond what it
started with is worth, $/MWh, credited in the last step's cost; ``'mean_price'``, the default:
the episode's mean price; 0: nothing, the earlier package's rule), ``protocol`` (the earlier package's key: a SetpointProtocol, how controllers direct their
devices, which is the default, or a P2PTradingProtocol, as the env's ``protocol`` argument),
``remote_sites`` (distributed mode with each site a process of its own on ``message_broker``:
``python -m powergrid site <id> --broker URL --env-id <env_id>``), ``site_timeout`` (seconds
the env waits for a remote site's message) and ``silent_site`` (distributed mode: ``'raise'``,
a site that does not answer is named in an error; ``'hold'``, it is held at what the env last
heard from it and flagged ``stale`` in its ``infos``).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from heron.core.checks import finite_number, is_finite_number
from heron.messaging.base import MessageBroker
from heron.protocols.horizontal import P2PTradingProtocol
from heron.protocols.vertical import SetpointProtocol

__all__ = ["DEFAULTS", "MICROGRID_KEYS", "DSO_KEYS", "validated_config", "checked_dict", "reset_options"]

MICROGRID_KEYS = {"name", "network", "connection_bus", "load_area", "renew_area", "base_power", "load_scale", "devices"}
DSO_KEYS = {"network", "name", "load_scale", "load_area", "price_area", "renew_area", "vm_pu", "regulator_taps",
            "regulator_setpoint", "regulator_band", "feeders", "feeders_per_substation"}

DEFAULTS: dict[str, Any] = {
    "centralized": True,
    "message_broker": "in_memory",
    "max_episode_steps": 24,
    "train": True,
    "share_reward": False,
    "penalty": 10.0,
    "convergence_failure_reward": -200.0,
    "convergence_failure_safety": 20.0,
    "env_id": None,
    "setup": "ieee34_ieee13",
    "dataset_path": None,
    "dso_config": None,
    "microgrid_configs": None,
    "sell_price_ratio": 1.0,
    "power_flow_backend": "lightsim2grid",
    "env_update_interval": None,
    "description": None,
    "protocol": None,
    "remote_sites": False,
    "site_timeout": 10.0,
    "silent_site": "raise",
    "stored_energy_value": "mean_price",
}


def validated_config(config: Mapping[str, Any] | None, defaults: Mapping[str, Any] = DEFAULTS) -> dict[str, Any]:
    """``defaults`` updated with ``config``, every value checked; errors name the key."""
    if config is not None and not isinstance(config, Mapping):
        raise ValueError(f"config must be a dict or None, got {type(config).__name__}")
    config = dict(config or {})
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; valid keys: {sorted(defaults)}")
    cfg = {**defaults, **config}
    for key in ("centralized", "train", "share_reward", "remote_sites"):
        if not isinstance(cfg[key], (bool, np.bool_)):
            raise ValueError(f"config {key!r} must be True or False, got {cfg[key]!r}")
    steps = cfg["max_episode_steps"]
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"config 'max_episode_steps' must be a positive integer, got {steps!r}")
    for key in ("penalty", "convergence_failure_reward", "convergence_failure_safety"):
        finite_number(cfg[key], f"config {key!r}", minimum=0.0 if key == "penalty" else None)
    broker = cfg["message_broker"]
    if not (broker is None or (isinstance(broker, str) and broker == "in_memory") or isinstance(broker, MessageBroker)):
        raise ValueError(f"config 'message_broker' must be 'in_memory', a MessageBroker or None, got {broker!r}")
    if cfg["env_id"] is not None and (not isinstance(cfg["env_id"], str) or not cfg["env_id"]):
        raise ValueError(f"config 'env_id' must be a non-empty string or None, got {cfg['env_id']!r}")
    interval = cfg["env_update_interval"]
    if interval is not None and not (is_finite_number(interval) and interval > 0):
        raise ValueError("config 'env_update_interval' must be None (a power flow at every action effect) or a "
                         f"positive number of seconds, got {interval!r}")
    finite_number(cfg["sell_price_ratio"], "config 'sell_price_ratio'", minimum=0.0, maximum=1.0)
    if not isinstance(cfg["power_flow_backend"], str):
        raise ValueError(f"config 'power_flow_backend' must be a backend name, got {cfg['power_flow_backend']!r}")
    path = cfg["dataset_path"]
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"config 'dataset_path' must be a path to a dataset file or None, got {path!r}")
    if cfg["description"] is not None and not isinstance(cfg["description"], str):
        raise ValueError(f"config 'description' must be text or None, got {cfg['description']!r}")
    protocol = cfg["protocol"]
    if protocol is not None and not isinstance(protocol, (SetpointProtocol, P2PTradingProtocol)):
        raise ValueError("config 'protocol' must be None, a SetpointProtocol (how controllers direct their devices: the "
                         f"default) or a P2PTradingProtocol (trading between microgrids), got {protocol!r}")
    finite_number(cfg["site_timeout"], "config 'site_timeout' (seconds)", above=0.0)
    if cfg["remote_sites"] and (cfg["centralized"] or not isinstance(broker, MessageBroker) or broker == "in_memory"):
        raise ValueError("config 'remote_sites': sites in other processes need 'centralized': False and a "
                         "'message_broker' they can reach (e.g. RedisBroker(url)), not the in-memory one")
    if cfg["silent_site"] not in ("raise", "hold"):
        raise ValueError(f"config 'silent_site' must be 'raise' or 'hold', got {cfg['silent_site']!r}")
    value = cfg["stored_energy_value"]
    if not (isinstance(value, str) and value == "mean_price"):
        finite_number(value, "config 'stored_energy_value' ('mean_price' or $/MWh)", minimum=0.0)
    if not isinstance(cfg["setup"], str):
        raise ValueError(f"config 'setup' must be a setup name, got {cfg['setup']!r}")
    return cfg


def checked_dict(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    """``value`` as a dict (None is empty) with only ``allowed`` keys; errors name ``what``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a dict, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(f"{what}: unknown key(s) {unknown}; valid keys: {sorted(allowed)}")
    return dict(value)


def reset_options(options: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``reset``'s options, which must be a dict. The env reads ``day`` (the index of the day the
    episode starts on) and ignores other keys, as PettingZoo expects: its API test resets with
    options of its own."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"reset options must be a dict, got {options!r}")
    return options
