"""NetworkedGridEnv: microgrids (one RL agent each) on a shared distribution network.

Config keys (unknown ones raise ``ValueError`` listing the valid ones): ``centralized``,
``message_broker`` (``'in_memory'``, a MessageBroker or None), ``max_episode_steps``, ``train``
(random days of the train split, else consecutive days of the test split), ``share_reward``,
``penalty``, ``convergence_failure_reward``, ``convergence_failure_safety``, ``env_id``,
``setup`` (embedded setup, default ``ieee34_ieee13``), ``dataset_path`` (your own profiles:
a pickle in the earlier format or ``.npz``), ``dso_config`` (overrides for the operator
network), ``microgrid_configs`` (``{name, connection_bus, load_area, renew_area, base_power,
load_scale, devices}``; devices ``{type: Generator|ESS|PV|Wind|Transformer|Shunt, name, bus, ...}``;
a Transformer is the on-load tap changer of the microgrid's connection transformer, a Shunt a
switched capacitor bank; both are discrete actions),
``sell_price_ratio`` (export price over import price), ``power_flow_backend``
(``'lightsim2grid'`` or ``'pandapower'``) and ``env_update_interval`` (event-driven mode: seconds
between power flows, or None for a power flow at every device action effect). ``protocol`` (argument) is a horizontal protocol the
env mediates: with :class:`P2PTradingProtocol`, importing microgrids bid and exporting ones ask
at their generators' marginal cost after each power flow, and cleared trades replace grid
purchases in their costs.

Cost per agent and step ($): generator fuel cost, storage throughput cost, and energy bought
from (or sold to) the operator network at the price. Safety (soft limits): voltage outside
0.95-1.05 pu on its buses (pu, summed), line and connection-transformer loading above 100 %
(fraction, summed), state of charge outside [soc_min, soc_max]. Reward = -(cost + penalty ·
safety), or the mean with ``share_reward``. Hard limits are physics, not safety: a device
delivers only what it can (storage within the energy it holds and its rating, generators
within P, Q, apparent power and power factor, renewables at their available power), and the
delivered power is what enters the power flow and the cost.

Two modes, one physics:

- centralized: every agent's action is gathered into device arrays with precomputed index
  maps, fleets step vectorized, the power flow is solved once, rewards and observations are
  array reductions and gathers. No pandas and no per-device Python in the step.
  These functions work over leading axes, so :mod:`powergrid.envs.batched` runs the very same
  step on B copies at once.
- distributed: each microgrid is one site behind its own :class:`Proxy`. Its action is
  published on ``action_channel('environment', agent)``; the controller splits it into device
  setpoints and sets its devices over its local bus (direct calls); each device publishes its
  state update on the broker; the env reads only those, solves, and publishes each agent's
  power-flow results; each controller computes its own observation and cost from its results
  and its devices and reports them. Every message published in a step is consumed in that step.

Actions outside the action space are clipped and flagged in ``infos[a]['action_clipped']`` (an
action equal to the space's float32 bound is inside); an action the devices cannot deliver
is flagged in ``infos[a]['action_limited']``, with ``infos[a]['delivered_action']`` what they
delivered, in the action's layout. NaN or a wrong shape raises ``ValueError``. A power flow that does not converge never raises:
every agent gets ``convergence_failure_reward`` and ``convergence_failure_safety``, and the
network part of its observation keeps the last converged values.

Event-driven mode (``setup_event_driven``/``run_event_driven``, after ``reset``): each agent
ticks at its own rate with its delays (HERON's default flow); a device's action effect writes
into its fleet; the network is re-solved at each effect or every ``env_update_interval``
seconds; profiles advance one sample per simulated hour, storage integrates its power over the
elapsed time, and ``event_totals`` accumulates each agent's cost and safety over time (per hour).

To model another system, subclass and override ``_build_net`` (the fused pandapower net and
the device fleets), ``_build_agents`` and ``_reward_and_safety``.
"""
from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandapower as pp
from gymnasium import spaces

from heron.agents.proxy import ENVIRONMENT_ID, Proxy
from heron.core.action import all_finite
from heron.envs.base import HeronEnv
from heron.messaging.base import Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager
from heron.messaging.memory import InMemoryBroker
from heron.protocols.base import HorizontalProtocol
from heron.protocols.horizontal import P2PTradingProtocol
from heron.protocols.vertical import setpoint_layout
from heron.scheduling.events import Event, EventType
from powergrid.agents.devices import ESS, Generator, Renewable, Shunt, Transformer, exchange_cost, exchange_costs
from powergrid.agents.fleets import GeneratorFleet, RenewableFleet, StorageFleet
from powergrid.agents.grid_agent import GridAgent
from powergrid.envs.safety import network_violation, overload, voltage_violation
from powergrid.networks._feeder import require_name
from powergrid.networks.compose import attach_ieee13_microgrid, build_operator_network
from powergrid.powerflow import make_backend
from powergrid.setups.loader import load_dataset, load_setup

__all__ = ["NetworkedGridEnv", "voltage_violation", "overload"]

MICROGRID_KEYS = {"name", "network", "connection_bus", "load_area", "renew_area", "base_power", "load_scale", "devices"}
DSO_KEYS = {"network", "name", "load_scale", "load_area", "price_area", "vm_pu", "regulator_taps"}
DEVICE_TYPES = {"Generator": "generator", "DG": "generator", "ESS": "storage", "Storage": "storage", "PV": "solar",
                "Solar": "solar", "Wind": "wind", "Transformer": "oltc", "OLTC": "oltc", "Shunt": "shunt"}


COMMON_DEFAULTS: dict[str, Any] = {
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
}


class NetworkedGridEnv(HeronEnv):
    """PettingZoo ``ParallelEnv`` over microgrid controllers (see the module doc)."""

    metadata = {"name": "networked_grid_v0", "render_modes": []}
    DEFAULTS: dict[str, Any] = COMMON_DEFAULTS
    dt_h = 1.0  # hours per step: the profiles are hourly

    def __init__(self, config: Mapping[str, Any] | None = None, protocol: HorizontalProtocol | None = None) -> None:
        if protocol is not None and not isinstance(protocol, P2PTradingProtocol):
            raise ValueError(f"the env mediates P2PTradingProtocol between microgrids; got {type(protocol).__name__}")
        self.protocol = protocol
        cfg = self._validated_config(config)
        self.config = cfg
        broker = cfg["message_broker"]
        if broker == "in_memory" or (broker is None and not cfg["centralized"]):
            broker = InMemoryBroker()
        super().__init__(env_id=cfg["env_id"] or uuid.uuid4().hex[:12], message_broker=broker)
        self.centralized = bool(cfg["centralized"])
        self.max_episode_steps = int(cfg["max_episode_steps"])
        self.net = self._build_net()
        self.agent_dict: dict[str, GridAgent] = self._build_agents()
        self._compile()

    # ------------------------------------------------------------- config
    def _validated_config(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        if config is not None and not isinstance(config, Mapping):
            raise ValueError(f"config must be a dict or None, got {type(config).__name__}")
        config = dict(config or {})
        unknown = sorted(set(config) - set(self.DEFAULTS))
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; valid keys: {sorted(self.DEFAULTS)}")
        cfg = {**self.DEFAULTS, **config}
        for key in ("centralized", "train", "share_reward"):
            if not isinstance(cfg[key], (bool, np.bool_)):
                raise ValueError(f"config {key!r} must be True or False, got {cfg[key]!r}")
        steps = cfg["max_episode_steps"]
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"config 'max_episode_steps' must be a positive integer, got {steps!r}")
        for key in ("penalty", "convergence_failure_reward", "convergence_failure_safety"):
            if not isinstance(cfg[key], (int, float, np.number)) or isinstance(cfg[key], bool) or not math.isfinite(cfg[key]):
                raise ValueError(f"config {key!r} must be a finite number, got {cfg[key]!r}")
        if cfg["penalty"] < 0:
            raise ValueError(f"config 'penalty' must be >= 0, got {cfg['penalty']!r}")
        broker = cfg["message_broker"]
        if not (broker is None or broker == "in_memory" or isinstance(broker, MessageBroker)):
            raise ValueError(f"config 'message_broker' must be 'in_memory', a MessageBroker or None, got {broker!r}")
        if cfg["env_id"] is not None and (not isinstance(cfg["env_id"], str) or not cfg["env_id"]):
            raise ValueError(f"config 'env_id' must be a non-empty string or None, got {cfg['env_id']!r}")
        interval = cfg["env_update_interval"]
        if interval is not None and (isinstance(interval, bool) or not isinstance(interval, (int, float, np.number))
                                     or not (math.isfinite(interval) and interval > 0)):
            raise ValueError("config 'env_update_interval' must be None (a power flow at every action effect) or a "
                             f"positive number of seconds, got {interval!r}")
        return cfg

    # ---------------------------------------------------------------- compile
    def _compile(self) -> None:
        """Precompute every index map and buffer the step uses."""
        self.backend = self._make_backend()
        self.possible_agents = list(self.agent_dict)
        self.agents = list(self.possible_agents)
        agents = list(self.agent_dict.values())
        self.action_spaces = {a: ag.action.space for a, ag in self.agent_dict.items()}
        self.observation_spaces = {}
        bus_names = self.net.bus.name.to_numpy()
        for spec, (a, ag) in zip(self._mg_specs, self.agent_dict.items()):
            layout = ag.observation_layout([str(n) for n in bus_names[spec["bus_pos"]]])
            space = spaces.Box(-np.inf, np.inf, shape=(ag.observation_dim,), dtype=np.float32)
            space.metadata = {"names": [n for n, _ in layout], "units": [u for _, u in layout]}
            self.observation_spaces[a] = space
        state_dim = sum(ag.observation_dim for ag in agents) + len(self.net.bus)
        self.state_space = spaces.Box(-np.inf, np.inf, shape=(state_dim,), dtype=np.float32)
        # actions: one flat vector over agents, then gathers into the fleets
        dims = [ag.action.dim for ag in agents]
        self._action_offsets = np.concatenate([[0], np.cumsum(dims)]).astype(np.int64)
        self._action_low = np.concatenate([ag.action.low if ag.action.dim_d == 0 else np.r_[ag.action.low, np.zeros(ag.action.dim_d)] for ag in agents])
        self._action_high = np.concatenate([ag.action.high if ag.action.dim_d == 0 else np.r_[ag.action.high, ag.action.ncats - 1] for ag in agents])
        self._action_bounds = action_bounds(self._action_low, self._action_high, self._action_offsets)
        self._flat_action = np.zeros(int(self._action_offsets[-1]))
        self._discrete_positions = np.concatenate(
            [np.arange(ag.action.dim_c, ag.action.dim) + self._action_offsets[k] for k, ag in enumerate(agents)]).astype(np.int64)
        self.register_heron_agents(agents)
        for agent in agents:
            for device in agent.devices.values():
                device.dt_h = self.dt_h
        self._proxies: dict[str, Proxy] = {}  # microgrid id -> its controller's proxy (distributed mode)
        self._compile_model()
        if not self.centralized:
            self._setup_distributed()

    # --------------------------------------------------------------- spaces
    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def observation_names(self, agent: str) -> list[str]:
        """Each entry of ``agent``'s observation as ``"name [unit]"``, e.g. ``"price [$/MWh]"``;
        the space's ``metadata`` holds the names and units apart."""
        meta = self.observation_space(agent).metadata
        return [f"{name} [{unit}]" for name, unit in zip(meta["names"], meta["units"])]

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:
        return len(self.possible_agents)

    # ------------------------------------------------------------ validation
    def _gather_actions(self, actions: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Validated flat action vector (clipped) and a per-agent 'was clipped' flag."""
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must be a dict of agent id -> action, got {type(actions).__name__}")
        missing = [a for a in self.agents if a not in actions]
        extra = [a for a in actions if a not in self.agents]
        if missing or extra:
            raise ValueError(f"actions must have one entry per live agent {self.agents}; missing {missing}, unexpected {extra}")
        flat = self._flat_action
        offsets = self._action_offsets
        for k, agent_id in enumerate(self.possible_agents):
            value = actions[agent_id]
            if isinstance(value, Mapping):  # Dict spaces (mixed continuous/discrete)
                value = np.concatenate([np.ravel(value.get("c", ())), np.ravel(value.get("d", ()))])
            try:
                arr = value if type(value) is np.ndarray and value.dtype.kind in "biuf" else np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"agent {agent_id!r}: action must hold numbers, got {value!r}") from None
            lo, hi = offsets[k], offsets[k + 1]
            if arr.ndim != 1 or arr.shape[0] != hi - lo:
                if arr.size == hi - lo and arr.ndim == 0:
                    arr = arr.reshape(1)
                else:
                    raise ValueError(f"agent {agent_id!r}: action has shape {arr.shape}, expected ({hi - lo},)")
            flat[lo:hi] = arr
        if not all_finite(flat):
            bad = [a for k, a in enumerate(self.possible_agents) if not np.all(np.isfinite(flat[offsets[k]:offsets[k + 1]]))]
            raise ValueError(f"agent(s) {bad}: action contains NaN or inf")
        if self._discrete_positions.size:
            d = flat[self._discrete_positions]
            if np.any(d != np.round(d)):
                bad = sorted({self.possible_agents[int(np.searchsorted(offsets, p, side="right")) - 1]
                              for p in self._discrete_positions[d != np.round(d)]})
                raise ValueError(f"agent(s) {bad}: discrete action entries must be whole numbers, got {d.tolist()}")
        return clip_actions(flat, self._action_bounds)

    # ------------------------------------------------------------- PettingZoo
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        elif not hasattr(self, "_rng"):
            self._rng = np.random.default_rng()
        self.agents = list(self.possible_agents)
        self._t = 0
        self._start_episode(reset_options(options))
        if self.message_broker is not None:
            self.message_broker.clear_environment(self.env_id)
        self._solve_and_score(first=True)
        obs = self._observations()
        return obs, {a: {} for a in self.agents}

    def step(self, actions: Mapping[str, Any]):
        if not self.agents or not hasattr(self, "_t"):
            raise RuntimeError("step() needs a running episode: call reset() first")
        flat, clipped = self._gather_actions(actions)
        self._t += 1
        if self.centralized:
            self._apply_actions(flat)
            delivered = self._delivered_actions(flat)
            cost, safety, converged = self._solve_and_score()
            obs = self._observations()
        else:
            obs, cost, safety, converged, delivered = self._step_distributed(flat)
        rewards, infos = self._rewards(cost, safety, converged, clipped, flat, delivered)
        truncated = self._t >= self.max_episode_steps
        terminations = {a: False for a in self.agents}
        truncations = {a: truncated for a in self.agents}
        if truncated:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _rewards(self, cost: np.ndarray, safety: np.ndarray, converged: bool, clipped: np.ndarray, commanded: np.ndarray,
                 delivered: np.ndarray):
        cfg = self.config
        if converged:
            reward = -(cost + cfg["penalty"] * safety)
        else:
            safety = safety + cfg["convergence_failure_safety"]
            reward = np.full(len(cost), float(cfg["convergence_failure_reward"]))
        if cfg["share_reward"]:
            reward = np.full(len(reward), reward.mean())
        rewards = dict(zip(self.possible_agents, reward.tolist()))
        offsets = self._action_offsets
        limited = np.logical_or.reduceat(delivered != commanded, offsets[:-1]) if delivered.size else clipped
        infos = {a: {"cost": c, "safety": s, "converged": converged, "action_clipped": bool(f), "action_limited": bool(lim),
                     "delivered_action": delivered[offsets[k]:offsets[k + 1]]}
                 for k, (a, c, s, f, lim) in enumerate(zip(self.possible_agents, cost.tolist(), safety.tolist(), clipped, limited))}
        return rewards, infos

    # --------------------------------------------------------- global state
    def state(self) -> np.ndarray:
        """Global state for centralized critics: every agent's observation, then all bus voltages."""
        obs = self._observations()
        return np.concatenate([obs[a] for a in self.possible_agents] + [self._good["vm"].astype(np.float32)])

    # ------------------------------------------------------------ planning
    def actions_from_setpoints(self, gen_p: np.ndarray, gen_q: np.ndarray, ess_p: np.ndarray) -> dict[str, np.ndarray]:
        """Each agent's action that commands these device setpoints (arrays in fleet row order:
        ``generators``, ``storage``); tap changers and capacitor banks hold their settings."""
        flat = np.clip(np.zeros(int(self._action_offsets[-1])), self._action_low, self._action_high)
        flat[self._gen_p_pos], flat[self._gen_q_pos], flat[self._ess_p_pos] = gen_p, gen_q, ess_p
        if self._discrete_devices:
            flat[self._disc_pos] = self._discrete_states() - self._disc_offset
        offsets = self._action_offsets
        return {a: flat[offsets[k]:offsets[k + 1]].copy() for k, a in enumerate(self.possible_agents)}

    def what_if(self, t: int, gen_p: np.ndarray, gen_q: np.ndarray, ess_p: np.ndarray) -> dict[str, Any] | None:
        """The network at step ``t`` of this episode (its loads, renewables and price) with these
        device injections (fleet row order; storage positive charging), leaving the episode as
        it was: what a planner with perfect foresight sees. Returns ``None`` if the power flow
        does not converge, else ``price``, each microgrid's ``p_import`` (MW), and ``vm`` (pu)
        of the microgrids' buses with ``vm_owner``, the agent index of each."""
        if self._batch_discrete is not None or not hasattr(self, "_t"):
            raise RuntimeError("what_if needs a single env with a running episode: call reset() first")
        horizon = self._profiles[self._split].shape[0] - self._start_hour
        if not 0 <= int(t) < horizon:
            raise ValueError(f"step t must be in [0, {horizon}) for this episode, got {t!r}")
        b, at, now = self.backend, self._at, self._t
        try:
            self._t = int(t)
            self._set_profiles()
            b.sgen_p[at["gen"]], b.sgen_q[at["gen"]], b.storage_p[at["ess"]] = gen_p, gen_q, ess_p
            result = b.solve()
            out = None if not result.converged else {
                "price": float(self._price), "p_import": result.trafo_p_hv_mw[at["mg_trafo"]].copy(),
                "vm": result.vm_pu[at["mg_bus"]].copy(), "vm_owner": self._mg_bus_owner.copy()}
        finally:
            self._t = now
            self._set_profiles()
            self._push_devices()
        return out

    # --------------------------------------------------------- distributed path
    def _setup_distributed(self) -> None:
        """Wrap each microgrid controller in a Proxy on the broker (one site each); connect its
        devices to the broker for their telemetry; precompute the channels the env uses."""
        broker = self.message_broker
        for agent in self.agent_dict.values():
            self._proxies[agent.agent_id] = Proxy(f"{agent.agent_id}_proxy", agent, broker, upstream_id=ENVIRONMENT_ID, env_id=self.env_id)
            for device in agent.devices.values():  # a device without an action (renewables) has nothing to report
                device.broker, device.publishes_state = broker, bool(device.action.dim)
        network_violation(np.ones(1), np.ones(1), 0.0)  # load the kernel now, not in the first step
        env = self.env_id
        self._command_channels = {a: ChannelManager.action_channel(ENVIRONMENT_ID, a, env) for a in self.possible_agents}
        self._report_channels = {a: ChannelManager.info_channel(a, ENVIRONMENT_ID, env) for a in self.possible_agents}
        self._result_channels = {a: ChannelManager.power_flow_result_channel(env, a) for a in self.possible_agents}
        self._state_channel = ChannelManager.state_update_channel(env)
        self._evaluation_channel = ChannelManager.custom_channel("evaluation", env, ENVIRONMENT_ID)

    def _step_distributed(self, flat: np.ndarray):
        broker, env, t = self.message_broker, self.env_id, float(self._t)
        offsets = self._action_offsets
        for k, agent_id in enumerate(self.possible_agents):  # 1. the env sends each microgrid its action
            broker.publish(self._command_channels[agent_id], Message(  # (views: flat is this step's own array)
                env, ENVIRONMENT_ID, agent_id, t, MessageType.ACTION, {"setpoint": flat[offsets[k]:offsets[k + 1]]}))
        # 2. each controller sets its devices, which act and publish state updates, and reports its
        #    action (Proxy.step is what step_distributed awaits; nothing in it suspends)
        for agent_id, proxy in self._proxies.items():
            agent = self.agent_dict[agent_id]
            agent.timestamp = t
            for device in agent.devices.values():
                device.timestamp = t
            proxy.step()
            broker.consume(self._report_channels[agent_id], ENVIRONMENT_ID, env)
        updates = {m.sender_id: m.payload for m in broker.consume(self._state_channel, ENVIRONMENT_ID, env)}
        # 3. the env applies what devices reported, solves, and publishes each agent's results
        delivered = self._apply_state_updates(updates, flat)
        converged = self._solve_network()
        for agent_id, payload in zip(self.possible_agents, self._network_payloads(converged)):
            broker.publish(self._result_channels[agent_id], Message(env, ENVIRONMENT_ID, agent_id, t, MessageType.RESULT, payload))
        # 4. each controller reads its results and its devices, evaluates, and reports back
        for agent_id, proxy in self._proxies.items():
            proxy.refresh_network_state()
            agent = self.agent_dict[agent_id]
            obs, cost, safety, marginal = self._evaluate_agent(agent, proxy)
            payload = {"obs": obs, "cost": cost, "safety": safety, "p_import": proxy.network_state[agent_id]["p_import"],
                       "marginal_cost": marginal}
            broker.publish(self._evaluation_channel, Message(env, agent_id, ENVIRONMENT_ID, t, MessageType.INFO, payload))
        evaluations = {m.sender_id: m.payload for m in broker.consume(self._evaluation_channel, ENVIRONMENT_ID, env)}
        obs = {a: evaluations[a]["obs"] for a in self.possible_agents}
        cost = np.array([evaluations[a]["cost"] for a in self.possible_agents])
        safety = np.array([evaluations[a]["safety"] for a in self.possible_agents])
        if self.protocol is not None:  # peers bid and ask by message; the env clears the market
            states = {a: {"net_demand": evaluations[a]["p_import"], "marginal_cost": evaluations[a]["marginal_cost"]}
                      for a in self.possible_agents}
            results, _ = self.protocol.coordinate_distributed(broker, states, env_id=env, coordinator_id=ENVIRONMENT_ID,
                                                              context={"timestamp": t})
            cost = cost + self._settle(results)
        return obs, cost, safety, converged, delivered

    # ------------------------------------------------------------------ build
    def _build_net(self) -> pp.pandapowerNet:
        cfg = self.config
        setup = load_setup(cfg["setup"]) if isinstance(cfg["setup"], str) else _raise(f"config 'setup' must be a setup name, got {cfg['setup']!r}")
        dso, user_dso = dict(setup["dso_config"]), _checked_dict(cfg["dso_config"], "config 'dso_config'", DSO_KEYS)
        if user_dso.get("network", dso.get("network")) != dso.get("network"):
            dso.pop("regulator_taps", None)  # the setup's taps belong to the setup's own feeder
        dso.update(user_dso)
        microgrids = cfg["microgrid_configs"] if cfg["microgrid_configs"] is not None else setup["microgrid_configs"]
        if not isinstance(microgrids, (list, tuple)) or not microgrids:
            raise ValueError(f"config 'microgrid_configs' must be a non-empty list, got {microgrids!r}")
        ratio = cfg["sell_price_ratio"]
        if not isinstance(ratio, (int, float)) or not 0.0 <= ratio <= 1.0:
            raise ValueError(f"config 'sell_price_ratio' must be in [0, 1], got {ratio!r}")
        self.dataset = load_dataset(cfg["dataset_path"] or setup["dataset_path"])
        self._series: list[tuple[str, str]] = []
        options = {"regulator_taps": tuple(dso["regulator_taps"])} if "regulator_taps" in dso else {}
        net, operator_buses = build_operator_network(dso.get("network", "IEEE34"), dso.get("name", "DSO"),
                                                     float(dso.get("load_scale", 1.0)), float(dso.get("vm_pu", 1.05)), **options)
        load_series = [self._series_row("load", dso["load_area"])] * len(net.load)
        self._price_row = self._series_row("price", dso["price_area"])
        self._mg_specs = []
        gen_cfgs, ess_cfgs, ren_cfgs = [], [], []
        names = set()
        for k, raw in enumerate(microgrids):
            mg = _checked_dict(raw, f"config 'microgrid_configs[{k}]'", MICROGRID_KEYS)
            for key in ("name", "connection_bus", "load_area", "renew_area", "devices"):
                if key not in mg:
                    raise ValueError(f"microgrid_configs[{k}] is missing {key!r}")
            name = mg["name"]
            require_name(name, f"microgrid_configs[{k}]: name (the agent id)")
            if name in names:
                raise ValueError(f"two microgrids are named {name!r}")
            names.add(name)
            if mg.get("network", "IEEE13") != "IEEE13":
                raise ValueError(f"microgrid {name!r}: network must be 'IEEE13', got {mg['network']!r}")
            connection = str(mg["connection_bus"])
            if connection not in operator_buses:
                raise ValueError(f"microgrid {name!r}: connection_bus {connection!r} is not a node of the operator network; nodes: {sorted(operator_buses)}")
            first_bus, first_line, first_load = len(net.bus), len(net.line), len(net.load)
            buses, trafo = attach_ieee13_microgrid(net, operator_buses[connection], name, float(mg.get("load_scale", 1.0)))
            load_series += [self._series_row("load", mg["load_area"])] * (len(net.load) - first_load)
            spec = {"name": name, "bus_slice": slice(first_bus, len(net.bus)), "line_slice": slice(first_line, len(net.line)),
                    "bus_pos": np.arange(first_bus, len(net.bus)), "line_pos": np.arange(first_line, len(net.line)),  # its own blocks
                    "trafo": trafo, "base_power": float(mg.get("base_power", 1.0)), "devices": []}
            if not isinstance(mg["devices"], (list, tuple)):
                raise ValueError(f"microgrid {name!r}: devices must be a list, got {mg['devices']!r}")
            for dev in mg["devices"]:
                self._add_device(net, name, buses, mg, dev, spec, gen_cfgs, ess_cfgs, ren_cfgs)
            self._mg_specs.append(spec)
        self.generators = GeneratorFleet(gen_cfgs)
        self.storage = StorageFleet(ess_cfgs)
        self.renewables = RenewableFleet(ren_cfgs)
        for fleet, cfgs in ((self.generators, gen_cfgs), (self.storage, ess_cfgs), (self.renewables, ren_cfgs)):
            fleet.element[:] = [c["_element"] for c in cfgs]
            fleet.bus[:] = [c["_bus"] for c in cfgs]
        self._ren_series = np.array([self._series_row(c["_source"], c["_area"]) for c in ren_cfgs], dtype=np.int64)
        self._load_series = np.array(load_series, dtype=np.int64)
        self._profiles = {split: np.ascontiguousarray(np.stack([self.dataset[split][kind][area] for kind, area in self._series], axis=1))
                          for split in ("train", "test")}
        return net

    def _series_row(self, kind: str, area: str) -> int:
        for split in ("train", "test"):
            if area not in self.dataset[split][kind]:
                raise ValueError(f"the dataset has no {kind} profile for area {area!r} in {split!r}; it has {sorted(self.dataset[split][kind])}")
        if (kind, area) not in self._series:
            self._series.append((kind, area))
        return self._series.index((kind, area))

    def _add_device(self, net, mg_name, buses, mg, dev, spec, gen_cfgs, ess_cfgs, ren_cfgs) -> None:
        if not isinstance(dev, Mapping) or "type" not in dev or "name" not in dev:
            raise ValueError(f"microgrid {mg_name!r}: each device needs 'type' and 'name', got {dev!r}")
        kind = DEVICE_TYPES.get(dev["type"])
        if kind is None:
            raise ValueError(f"device {dev['name']!r}: unknown type {dev['type']!r}; expected one of {sorted(DEVICE_TYPES)}")
        node = str(dev.get("bus", "650"))
        if node not in buses:
            raise ValueError(f"device {dev['name']!r}: bus {node!r} is not a node of {mg_name}; nodes: {sorted(buses)}")
        cfg = {k: v for k, v in dev.items() if k not in ("type", "bus")}
        cfg["_bus"] = buses[node]
        name = str(dev["name"])
        if kind == "oltc":
            if any(d[0] == "oltc" for d in spec["devices"]):
                raise ValueError(f"device {name!r}: microgrid {mg_name!r} has one connection transformer and already an OLTC")
            params = {"tap_min": int(dev.get("tap_min", -8)), "tap_max": int(dev.get("tap_max", 8)),
                      "tap_pos": int(dev.get("tap_pos", 0))}
            step = float(dev.get("tap_step_percent", 0.625))
            if not (params["tap_min"] <= params["tap_pos"] <= params["tap_max"]) or not 0.0 < step <= 5.0:
                raise ValueError(f"device {name!r}: needs tap_min <= tap_pos <= tap_max and 0 < tap_step_percent <= 5, got {dev!r}")
            trafo = spec["trafo"]
            for column, value in (("tap_side", "hv"), ("tap_neutral", 0), ("tap_min", params["tap_min"]), ("tap_max", params["tap_max"]),
                                  ("tap_step_percent", step), ("tap_pos", params["tap_pos"]), ("tap_changer_type", "Ratio")):
                net.trafo.loc[trafo, column] = value
            spec["devices"].append(("oltc", trafo, name, params))
            return
        if kind == "shunt":
            params = {"q_step_mvar": float(dev.get("q_step_mvar", 0.05)), "max_step": int(dev.get("max_step", 4)),
                      "step": int(dev.get("step", 0))}
            if not (params["q_step_mvar"] > 0 and params["max_step"] >= 1 and 0 <= params["step"] <= params["max_step"]):
                raise ValueError(f"device {name!r}: needs q_step_mvar > 0, max_step >= 1, 0 <= step <= max_step, got {dev!r}")
            element = pp.create_shunt(net, buses[node], q_mvar=-params["q_step_mvar"], p_mw=0.0, step=params["step"],
                                      max_step=params["max_step"], name=name)
            spec["devices"].append(("shunt", element, name, params))
            return
        if kind == "generator":
            probe = GeneratorFleet([cfg])  # validates before the net is touched
            cfg["_element"] = pp.create_sgen(net, buses[node], p_mw=float(probe.p[0]), q_mvar=0.0, name=str(dev["name"]))
            spec["devices"].append(("generator", len(gen_cfgs), name))
            gen_cfgs.append(cfg)
        elif kind == "storage":
            probe = StorageFleet([cfg])
            cfg["_element"] = pp.create_storage(net, buses[node], p_mw=0.0, max_e_mwh=float(probe.capacity[0]), name=str(dev["name"]))
            spec["devices"].append(("storage", len(ess_cfgs), name))
            ess_cfgs.append(cfg)
        else:
            RenewableFleet([cfg])
            cfg["_element"] = pp.create_sgen(net, buses[node], p_mw=0.0, q_mvar=0.0, name=str(dev["name"]), type=kind)
            cfg["_source"], cfg["_area"] = kind, mg["renew_area"]
            self._series_row(kind, mg["renew_area"])
            spec["devices"].append((kind, len(ren_cfgs), name))
            ren_cfgs.append(cfg)

    def _build_agents(self) -> dict[str, GridAgent]:
        agents = {}
        for spec in self._mg_specs:
            devices = []
            for kind, row, name, *params in spec["devices"]:
                if kind == "generator":
                    devices.append(Generator(name, self.generators, row, bus=int(self.generators.bus[row])))
                elif kind == "storage":
                    devices.append(ESS(name, self.storage, row, bus=int(self.storage.bus[row])))
                elif kind in ("oltc", "shunt"):
                    device = Transformer(name, **params[0]) if kind == "oltc" else Shunt(name, **params[0])
                    device.element, device.initial = row, dict(params[0])
                    devices.append(device)
                else:
                    devices.append(Renewable(name, self.renewables, row, bus=int(self.renewables.bus[row]), source=kind))
            agents[spec["name"]] = GridAgent(spec["name"], devices=devices, base_power=spec["base_power"],
                                             n_buses=len(spec["bus_pos"]), env_id=self.env_id)
        return agents

    def _make_backend(self):
        return make_backend(self.net, self.config["power_flow_backend"])

    def _compile_model(self) -> None:
        """Index maps of the default model: owners, action positions, observation gathers."""
        specs, n = self._mg_specs, len(self._mg_specs)
        self._mg_trafo = np.array([s["trafo"] for s in specs], dtype=np.int64)
        self._mg_bus = np.concatenate([s["bus_pos"] for s in specs])
        self._mg_bus_owner = np.concatenate([np.full(len(s["bus_pos"]), k) for k, s in enumerate(specs)])
        self._mg_line = np.concatenate([s["line_pos"] for s in specs])
        self._mg_line_owner = np.concatenate([np.full(len(s["line_pos"]), k) for k, s in enumerate(specs)])
        self.gen_owner = np.zeros(self.generators.size, dtype=np.int64)
        self.ess_owner = np.zeros(self.storage.size, dtype=np.int64)
        self.ren_owner = np.zeros(self.renewables.size, dtype=np.int64)
        self._gen_p_pos = np.zeros(self.generators.size, dtype=np.int64)
        self._gen_q_pos = np.zeros(self.generators.size, dtype=np.int64)
        self._ess_p_pos = np.zeros(self.storage.size, dtype=np.int64)
        self._discrete_devices: list[tuple[Any, int]] = []  # (Transformer or Shunt, position in the flat action)
        self._gen_ids, self._ess_ids = [""] * self.generators.size, [""] * self.storage.size  # device id of each fleet row
        for k, (agent_id, agent) in enumerate(self.agent_dict.items()):
            layout, _ = setpoint_layout({d: dev.action for d, dev in agent.devices.items()})
            where = dict(layout)
            for dev in agent.devices.values():
                start = self._action_offsets[k] + where[dev.agent_id].start
                if isinstance(dev, Generator):
                    self.gen_owner[dev.index] = k
                    self._gen_ids[dev.index] = dev.agent_id
                    self._gen_p_pos[dev.index], self._gen_q_pos[dev.index] = start, start + 1
                elif isinstance(dev, ESS):
                    self.ess_owner[dev.index] = k
                    self._ess_ids[dev.index] = dev.agent_id
                    self._ess_p_pos[dev.index] = start
                elif isinstance(dev, (Transformer, Shunt)):
                    self._discrete_devices.append((dev, int(start)))
                else:
                    self.ren_owner[dev.index] = k
        self._load_owner = np.full(len(self.net.load), n, dtype=np.int64)  # n = the operator's own loads
        bus_owner = np.full(len(self.net.bus), n, dtype=np.int64)
        bus_owner[self._mg_bus] = self._mg_bus_owner
        self._load_owner[:] = bus_owner[self.net.bus.index.get_indexer(self.net.load.bus)]
        self._mg_renewables = [[(name, row) for kind, row, name, *_ in spec["devices"] if kind in ("solar", "wind")] for spec in specs]
        one_hot = lambda owner: (np.asarray(owner)[:, None] == np.arange(n)).astype(float)  # noqa: E731
        self._owners = {"gen": one_hot(self.gen_owner), "ess": one_hot(self.ess_owner), "bus": one_hot(self._mg_bus_owner),
                        "line": one_hot(self._mg_line_owner), "load": one_hot(self._load_owner)}
        discrete = [device for device, _ in self._discrete_devices]
        self._disc_pos = np.array([pos for _, pos in self._discrete_devices], dtype=np.int64)
        self._setpoint_pos = np.concatenate([self._gen_p_pos, self._gen_q_pos, self._ess_p_pos, self._disc_pos])
        self._disc_is_tap = np.array([isinstance(d, Transformer) for d in discrete], dtype=bool)
        self._disc_element = np.array([d.element for d in discrete], dtype=np.int64)
        self._disc_offset = np.array([d.tap_min if isinstance(d, Transformer) else 0 for d in discrete], dtype=float)
        self._disc_q_step = np.array([d.q_step_mvar for d in discrete if isinstance(d, Shunt)], dtype=float)
        self._disc_initial = np.array([d.initial["tap_pos" if isinstance(d, Transformer) else "step"] for d in discrete], dtype=float)
        self._batch_discrete: np.ndarray | None = None
        self._set_index_keys(batched=False)
        self._load_base_p = self.backend.initial["load_p"].copy()
        self._load_base_q = self.backend.initial["load_q"].copy()
        # observation gathers: source vector = [gen p, gen q, ess p, ess soc, ren p, load p(k), import(k), price, sin, cos, vm]
        G, S, R = self.generators.size, self.storage.size, self.renewables.size
        base = {"gen_p": 0, "gen_q": G, "ess_p": 2 * G, "ess_soc": 2 * G + S, "ren_p": 2 * G + 2 * S}
        base["load_p"] = base["ren_p"] + R
        base["p_import"] = base["load_p"] + n
        base["price"] = base["p_import"] + n
        base["vm"] = base["price"] + 3
        base["discrete"] = base["vm"] + len(self.net.bus)
        discrete_row = {id(dev): i for i, (dev, _) in enumerate(self._discrete_devices)}
        self._obs_index, self._obs_scale = [], []
        for k, agent in enumerate(self.agent_dict.values()):
            idx, scale = [], []
            inv = 1.0 / agent.base_power
            for dev in agent.devices.values():
                if isinstance(dev, Generator):
                    idx += [base["gen_p"] + dev.index, base["gen_q"] + dev.index]
                    scale += [inv, inv]
                elif isinstance(dev, ESS):
                    idx += [base["ess_p"] + dev.index, base["ess_soc"] + dev.index]
                    scale += [inv, 1.0]
                elif isinstance(dev, Renewable):
                    idx.append(base["ren_p"] + dev.index)
                    scale.append(inv)
                elif isinstance(dev, (Transformer, Shunt)):
                    idx.append(base["discrete"] + discrete_row[id(dev)])
                    scale.append(1.0)
            idx += [base["load_p"] + k, base["p_import"] + k, base["price"], base["price"] + 1, base["price"] + 2]
            scale += [inv, inv, 1.0, 1.0, 1.0]
            idx += list(base["vm"] + specs[k]["bus_pos"])
            scale += [1.0] * len(specs[k]["bus_pos"])
            assert len(idx) == agent.observation_dim
            self._obs_index.append(np.array(idx, dtype=np.int64))
            self._obs_scale.append(np.array(scale))
        self._good = {"vm": np.ones(len(self.net.bus)), "p_import": np.zeros(n), "line": np.zeros(len(self.net.line)),
                      "trafo": np.zeros(len(self.net.trafo))}
        self._episode = 0
        self._hour = 0
        self._price = 0.0

    def _set_index_keys(self, batched: bool) -> None:
        """The step's gathers and scatters: ``x[idx]`` for one env, ``x[:, idx]`` for a batch
        (``x[..., idx]`` would serve both, at about a microsecond a use)."""
        lead = (slice(None),) if batched else ()
        G, S = self.generators.size, self.storage.size
        parts = {"setpoints": self._setpoint_pos, "gen_p": slice(0, G), "gen_q": slice(G, 2 * G), "ess_p": slice(2 * G, 2 * G + S),
                 "discrete": slice(2 * G + S, None), "gen": self.generators.element, "ess": self.storage.element,
                 "ren": self.renewables.element, "load_series": self._load_series, "ren_series": self._ren_series,
                 "price": self._price_row, "mg_trafo": self._mg_trafo, "mg_bus": self._mg_bus, "mg_line": self._mg_line,
                 "taps": self._disc_is_tap, "shunts": ~self._disc_is_tap, "tap_element": self._disc_element[self._disc_is_tap],
                 "shunt_element": self._disc_element[~self._disc_is_tap], "column": None, "gen_p_pos": self._gen_p_pos,
                 "gen_q_pos": self._gen_q_pos, "ess_p_pos": self._ess_p_pos}
        self._at = {name: lead + (idx,) for name, idx in parts.items()}

    # ------------------------------------------------------------- episodes
    def _pick_day(self, rng: np.random.Generator, episode: int, options: Mapping[str, Any]) -> int:
        """The day an episode starts: ``options['day']``, a random train day, or the next test day."""
        self._split = "train" if self.config["train"] else "test"
        hours = self._profiles[self._split].shape[0]
        days = (hours - self.max_episode_steps - 1) // 24 + 1
        if days < 1:
            raise ValueError(f"the dataset's {hours} hours are too few for episodes of {self.max_episode_steps} steps")
        if "day" in options:
            day = int(options["day"])
            if not 0 <= day < days:
                raise ValueError(f"options['day'] must be in [0, {days}), got {options['day']!r}")
            return day
        return int(rng.integers(0, days)) if self.config["train"] else episode % days

    def _start_episode(self, options: Mapping[str, Any]) -> None:
        self._start_hour = 24 * self._pick_day(self._rng, self._episode, options)
        self._episode += 1
        self.storage.reset()
        self.generators.reset()
        for device, _ in self._discrete_devices:
            if isinstance(device, Transformer):
                device.tap_pos = device.initial["tap_pos"]
            else:
                device.step = device.initial["step"]
        self.backend.reset()

    # ---------------------------------------------------------------- batch
    def _batch_state(self, num_envs: int) -> None:
        """Give the step state a leading axis of ``num_envs`` copies, for
        :class:`~powergrid.envs.batched.BatchedMicrogrids`, which owns this env from then on (its
        PettingZoo API no longer applies). The power flow becomes the batched Newton backend,
        with this env's own backend as the fallback for copies it cannot solve."""
        from powergrid.powerflow.batched import BatchedNewtonBackend

        B = int(num_envs)
        self.generators, self.storage, self.renewables = (f.batched(B) for f in (self.generators, self.storage, self.renewables))
        self.backend = BatchedNewtonBackend(self.net, B, fallback=self.backend, angles=False)  # no step reads angles
        self._good = {key: np.tile(value, (B, 1)) for key, value in self._good.items()}
        self._batch_discrete = np.tile(self._disc_initial, (B, 1))
        self._t, self._start_hour, self._episode = (np.zeros(B, np.int64) for _ in range(3))
        self._split = "train" if self.config["train"] else "test"
        self._set_index_keys(batched=True)

    def _start_episodes(self, rows: np.ndarray, rngs: list[np.random.Generator], options: Mapping[str, Any]) -> None:
        """Batched ``_start_episode`` for the copies in ``rows`` (a mask), each with its own generator."""
        for b in np.flatnonzero(rows):
            self._start_hour[b] = 24 * self._pick_day(rngs[b], int(self._episode[b]), options)
            self._episode[b] += 1
        self._t[rows] = 0
        self.storage.reset(rows)
        self.generators.reset(rows)
        self._batch_discrete[rows] = self._disc_initial
        self.backend.reset(rows)

    # ----------------------------------------------------------- centralized
    # The functions from here to _observation_source are the centralized step. They are written
    # over leading axes, so the same code steps one env or, after _batch_state(B), B copies.
    def _apply_actions(self, flat: np.ndarray) -> None:
        """Agent actions to device setpoints: one gather with the setpoint protocol's layout."""
        at = self._at
        setpoints = flat[at["setpoints"]]
        self.generators.dispatch(slice(None), setpoints[at["gen_p"]], setpoints[at["gen_q"]])
        self.storage.dispatch(slice(None), setpoints[at["ess_p"]], self.dt_h)
        if not self._discrete_devices:
            return
        if self._batch_discrete is not None:
            self._batch_discrete[:] = self._disc_offset + setpoints[at["discrete"]]
        else:
            for device, pos in self._discrete_devices:  # tap changers and capacitor banks: few, discrete
                device._execute_local_action(flat[pos:pos + 1])

    def _delivered_actions(self, commanded: np.ndarray) -> np.ndarray:
        """``commanded`` (flat, clipped) with what the devices delivered at their setpoints."""
        at, delivered = self._at, commanded.copy()
        delivered[at["gen_p_pos"]], delivered[at["gen_q_pos"]] = self.generators.p, self.generators.q
        delivered[at["ess_p_pos"]] = self.storage.p
        return delivered

    def _push_devices(self) -> None:
        """The fleets' injections into the power-flow backend (centralized and event-driven)."""
        b = self.backend
        at = self._at
        b.sgen_p[at["gen"]] = self.generators.p
        b.sgen_q[at["gen"]] = self.generators.q
        b.storage_p[at["ess"]] = self.storage.p
        if self._discrete_devices:
            self._push_discrete(self._discrete_states())

    def _discrete_states(self) -> np.ndarray:
        """Tap positions and capacitor steps, in the order of ``_discrete_devices``."""
        if self._batch_discrete is not None:
            return self._batch_discrete
        return np.array([d.tap_pos if isinstance(d, Transformer) else d.step for d, _ in self._discrete_devices], dtype=float)

    def _push_discrete(self, values: np.ndarray) -> None:
        """Taps and capacitor steps (``_discrete_states`` order) into the backend."""
        b, at = self.backend, self._at
        b.trafo_tap[at["tap_element"]] = values[at["taps"]]
        b.shunt_q[at["shunt_element"]] = -self._disc_q_step * values[at["shunts"]]

    def _set_profiles(self) -> None:
        """Loads, renewable output and price of the current hour (nature's part, both modes)."""
        self._hour = self._start_hour + self._t
        column = self._profiles[self._split][self._hour]
        b = self.backend
        at = self._at
        load = column[at["load_series"]]
        np.multiply(self._load_base_p, load, out=b.load_p)
        np.multiply(self._load_base_q, load, out=b.load_q)
        np.multiply(self.renewables.p_max, column[at["ren_series"]], out=self.renewables.p)
        b.sgen_p[at["ren"]] = self.renewables.p
        self._price = column[at["price"]]

    def _solve(self, rows: np.ndarray | None = None) -> Any:
        """Solve (batched: the copies in ``rows``) and keep the converged results in ``_good``."""
        result = self.backend.solve() if rows is None else self.backend.solve(rows)
        ok = result.converged if rows is None else result.converged & rows
        good = self._good
        if ok is True or (ok is not False and ok.all()):
            good["vm"][:] = result.vm_pu
            good["p_import"][:] = result.trafo_p_hv_mw[self._at["mg_trafo"]]
            good["line"][:] = result.line_loading_percent
            good["trafo"][:] = result.trafo_loading_percent
        elif ok is not False and ok.any():
            where = ok[..., None]
            np.copyto(good["vm"], result.vm_pu, where=where)
            np.copyto(good["p_import"], result.trafo_p_hv_mw[self._at["mg_trafo"]], where=where)
            np.copyto(good["line"], result.line_loading_percent, where=where)
            np.copyto(good["trafo"], result.trafo_loading_percent, where=where)
        return result.converged

    def _solve_and_score(self, first: bool = False):
        self._set_profiles()
        self._push_devices()
        converged = self._solve()
        cost, safety = self._reward_and_safety()
        if self.protocol is not None and not first:
            cost = cost + self._settle(self.protocol.coordinate(None, self._market_states())[0])
        return cost, safety, converged

    def _marginal_costs(self) -> np.ndarray:
        """Each agent's generator marginal cost (mean over its generators; the price if none)."""
        g, n = self.generators, len(self.possible_agents)
        count = np.bincount(self.gen_owner, minlength=n)
        total = np.bincount(self.gen_owner, g.marginal_cost(slice(None)), minlength=n)
        return np.where(count > 0, total / np.maximum(count, 1), self._price)

    def _market_states(self) -> dict[str, dict[str, float]]:
        mc = self._marginal_costs()
        return {a: {"net_demand": float(self._good["p_import"][k]), "marginal_cost": float(mc[k])}
                for k, a in enumerate(self.possible_agents)}

    def _settle(self, results: Mapping[str, Mapping[str, float]]) -> np.ndarray:
        """Cost change of each agent whose energy was traded with peers instead of the grid."""
        delta = np.zeros(len(self.possible_agents))
        for k, agent_id in enumerate(self.possible_agents):
            r = results[agent_id]
            if r["adjustment"]:
                delta[k] = r["payment"] * self.dt_h - float(self._grid_cost(r["adjustment"], self._price))
        return delta

    def _grid_cost(self, p_import: np.ndarray | float, price: Any) -> Any:
        cost = exchange_costs if type(p_import) is np.ndarray else exchange_cost
        return cost(p_import, price, self.config["sell_price_ratio"], self.dt_h)

    def _reward_and_safety(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-agent cost and safety; sums over each agent's devices, buses and lines are products
        with 0/1 ownership matrices (``x @ owner``), which work over a batch axis too."""
        good, dt, own, at = self._good, self.dt_h, self._owners, self._at
        dot = np.dot
        cost = dot(self.generators.cost(slice(None), dt), own["gen"]) + dot(self.storage.cost(slice(None), dt), own["ess"])
        cost += self._grid_cost(good["p_import"], self._price[at["column"]])
        safety = dot(voltage_violation(good["vm"][at["mg_bus"]]), own["bus"])
        safety += dot(overload(good["line"][at["mg_line"]]), own["line"])
        safety += overload(good["trafo"][at["mg_trafo"]])
        safety += dot(self.storage.violation(slice(None)), own["ess"])
        return cost, safety

    def _hour_angle(self) -> Any:
        """The hour of day as an angle: observations carry its sine and cosine."""
        return (2.0 * math.pi / 24.0) * (self._hour % 24)

    def _observation_source(self) -> np.ndarray:
        """Every number an observation is gathered from (see ``_compile_model`` for the layout)."""
        angle = self._hour_angle()
        sin, cos = np.sin(angle), np.cos(angle)
        g, s, good, column = self.generators, self.storage, self._good, self._at["column"]
        return np.concatenate([g.p, g.q, s.p, s.soc, self.renewables.p, np.dot(self.backend.load_p, self._owners["load"]),
                               good["p_import"], self._price[column], sin[column], cos[column], good["vm"],
                               self._discrete_states()], axis=-1)

    def _observations(self) -> dict[str, np.ndarray]:
        source = self._observation_source()
        return {a: (source[idx] * scale).astype(np.float32)
                for a, idx, scale in zip(self.possible_agents, self._obs_index, self._obs_scale)}

    # ----------------------------------------------------------- distributed
    def _apply_state_updates(self, updates: Mapping[str, Mapping[str, float]], commanded: np.ndarray) -> np.ndarray:
        """Write what the devices reported into the solver's injections (fleet row order); return
        the actions as delivered (``commanded`` with the devices' reported powers)."""
        try:
            gen, ess = [updates[d] for d in self._gen_ids], [updates[d] for d in self._ess_ids]
        except KeyError as missing:
            raise ValueError(f"device {missing.args[0]!r} published no state update this step") from None
        b, at = self.backend, self._at
        gen_p, gen_q, ess_p = [u["P_MW"] for u in gen], [u["Q_MVAR"] for u in gen], [u["P_MW"] for u in ess]
        b.sgen_p[at["gen"]], b.sgen_q[at["gen"]], b.storage_p[at["ess"]] = gen_p, gen_q, ess_p
        if self._discrete_devices:
            self._push_discrete(np.array([updates[d.agent_id]["tap_pos" if isinstance(d, Transformer) else "step"]
                                          for d, _ in self._discrete_devices], dtype=float))
        delivered = commanded.copy()
        delivered[self._gen_p_pos], delivered[self._gen_q_pos], delivered[self._ess_p_pos] = gen_p, gen_q, ess_p
        return delivered

    def _solve_network(self) -> bool:
        self._set_profiles()
        return self._solve()

    def _network_payloads(self, converged: bool) -> list[dict[str, Any]]:
        """Each microgrid's power-flow results, in agent order: its buses' voltages, its lines' and
        connection transformer's loading, its import and load, the price and hour, and its
        renewables' output (which follows the weather, so the env measures it)."""
        good = self._good
        angle = self._hour_angle()  # one env: a Python number
        sin, cos = math.sin(angle), math.cos(angle)
        price = float(self._price)
        load_p = np.dot(self.backend.load_p, self._owners["load"]).tolist()
        p_import, trafo, renewable_p = good["p_import"].tolist(), good["trafo"].tolist(), self.renewables.p.tolist()
        return [{"converged": converged, "vm_pu": good["vm"][spec["bus_slice"]].copy(), "line_loading": good["line"][spec["line_slice"]].copy(),
                 "trafo_loading": trafo[spec["trafo"]], "p_import": p_import[k], "load_p": load_p[k], "price": price,
                 "hour_sin": sin, "hour_cos": cos, "device_states": {name: {"P_MW": renewable_p[row]} for name, row in renewables}}
                for k, (spec, renewables) in enumerate(zip(self._mg_specs, self._mg_renewables))]

    def _evaluate_agent(self, agent: GridAgent, proxy: Proxy) -> tuple[np.ndarray, float, float, float]:
        """What a controller computes from its network results and its own devices: observation,
        cost, safety, and its generators' mean marginal cost (the price without generators)."""
        network = proxy.network_state[agent.agent_id]
        measured = network["device_states"]  # what the env measured (renewable output follows the weather)
        states, cost, safety, marginal = {}, self._grid_cost(network["p_import"], network["price"]), 0.0, []
        for d, device in agent.devices.items():
            state = states[d] = measured[d] if d in measured else device.report()
            cost += state.get("cost", 0.0)
            safety += state.get("safety", 0.0)
            if "marginal_cost" in state:
                marginal.append(state["marginal_cost"])
        safety += network_violation(network["vm_pu"], network["line_loading"], network["trafo_loading"])
        return agent.observation_from(states, network), cost, safety, sum(marginal) / len(marginal) if marginal else network["price"]

    # ----------------------------------------------------------- event driven
    def setup_event_driven(self, scheduler=None, seed: int | None = None):
        if not hasattr(self, "_t"):
            self.reset(seed=seed)
        interval = self.config["env_update_interval"]
        sched = super().setup_event_driven(scheduler, seed)
        for agent in self.agent_dict.values():
            for device in agent.devices.values():
                device.dt_h = 0.0  # storage energy is integrated over elapsed time by the env
                device.publishes_state = False  # action effects reach the env through the scheduler
        self._event_clock = sched.current_time
        self.event_totals = {"cost": np.zeros(len(self.possible_agents)), "safety": np.zeros(len(self.possible_agents)),
                             "power_flows": 0, "not_converged": 0}
        if interval is not None:
            sched.set_handler(EventType.ENV_UPDATE, self._handle_env_update)
            sched.schedule(Event(sched.current_time + interval, EventType.ENV_UPDATE))
        return sched

    def _handle_env_update(self, event: Event, scheduler) -> None:
        self._event_update()
        scheduler.schedule(Event(scheduler.current_time + self.config["env_update_interval"], EventType.ENV_UPDATE))

    def apply_action(self, agent_id: str, action: Any) -> None:
        """Event-driven effect of an action: a device's goes into its fleet, then the network is
        re-solved (unless updates are periodic); a controller's is split over its devices."""
        agent = self.get_heron_agent(agent_id)
        if agent is None:
            raise ValueError(f"unknown agent {agent_id!r}; agents: {sorted(self.registered_agents)}")
        if self._scheduler is None or isinstance(agent, GridAgent):
            return super().apply_action(agent_id, action)
        self._integrate_until(self.simulation_time)
        agent._set_device_action(action)
        if self.config["env_update_interval"] is None:
            self._event_update()

    def _integrate_until(self, now: float) -> None:
        """Advance storage energy and the accumulated cost and safety to ``now``."""
        elapsed_h = (now - self._event_clock) / 3600.0
        if elapsed_h <= 0:
            return
        self.storage.dispatch(slice(None), self.storage.p_set.copy(), elapsed_h)
        cost, safety = self._reward_and_safety()
        self.event_totals["cost"] += cost * elapsed_h
        self.event_totals["safety"] += safety * elapsed_h
        self._event_clock = now

    def _event_update(self) -> None:
        now = self.simulation_time
        self._integrate_until(now)
        self.storage.dispatch(slice(None), self.storage.p_set.copy(), 0.0)  # what it delivers from now on
        self._t = min(int(now // 3600), self._profiles[self._split].shape[0] - 1 - self._start_hour)
        self._set_profiles()
        self._push_devices()
        converged = self._solve()
        self.event_totals["power_flows"] += 1
        self.event_totals["not_converged"] += not converged

    def get_state(self) -> dict[str, Any]:
        """Global state for event-driven observers: the time and every agent's observation."""
        return {"time": self.simulation_time, **self._observations()}

    def close(self) -> None:
        """Nothing to release: the broker belongs to whoever passed it in."""


def action_bounds(low: np.ndarray, high: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, ...]:
    """What ``clip_actions`` needs: the bounds, and the bounds a value must cross to be flagged.
    The spaces hold their bounds as float32, which round away from the float64 limits by up to
    1e-8: an action equal to the space's own ``low`` or ``high`` is inside, not clipped."""
    flag_low = np.minimum(low, low.astype(np.float32).astype(np.float64))
    flag_high = np.maximum(high, high.astype(np.float32).astype(np.float64))
    return low, high, flag_low, flag_high, np.asarray(offsets[:-1])


def clip_actions(raw: np.ndarray, bounds: tuple[np.ndarray, ...], out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Flat actions (the last axis) clipped into the action space, and per agent whether any of
    its entries lay outside the space."""
    low, high, flag_low, flag_high, starts = bounds
    clipped = np.clip(raw, low, high, out=out)
    if not raw.shape[-1]:
        return clipped, np.zeros(raw.shape[:-1] + (len(starts),), bool)
    return clipped, np.logical_or.reduceat((raw < flag_low) | (raw > flag_high), starts, axis=-1)


def reset_options(options: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``reset``'s options, which must be a dict. The env reads ``day`` (the index of the day the
    episode starts on) and ignores other keys, as PettingZoo expects: its API test resets with
    options of its own."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"reset options must be a dict, got {options!r}")
    return options


def _checked_dict(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a dict, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(f"{what}: unknown key(s) {unknown}; valid keys: {sorted(allowed)}")
    return dict(value)


def _raise(message: str):
    raise ValueError(message)
