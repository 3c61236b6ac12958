"""NetworkedGridEnv: microgrids (one RL agent each) on a shared distribution network.

The env is a PettingZoo ``ParallelEnv`` and a thin driver over the grid core
(:mod:`powergrid.core`): the model is built once from the config (keys in
:mod:`powergrid.core.config`), and every mode runs the core's step functions.

- centralized: the agents' actions are gathered into device setpoints with precomputed index
  maps, the fleets step vectorized, the power flow is solved once, rewards and observations
  are array reductions and gathers (:class:`~powergrid.core.step.GridCore`); no pandas and no
  per-device Python in the step. :mod:`powergrid.envs.batched` runs the same functions on B
  copies at once.
- distributed: each microgrid is a site (:class:`~powergrid.agents.site.Site`) and the env
  exchanges only messages with it; the whole message flow of a step is in
  :mod:`powergrid.envs.exchange`.
- event-driven: :mod:`powergrid.envs.event_driven`.

Cost per agent and step ($): generator fuel cost, storage throughput cost, and energy bought
from (or sold to) the operator network at the price. Safety (soft limits): voltage outside
0.95-1.05 pu on its buses (pu, summed), line and connection-transformer loading above 100 %
(fraction, summed), state of charge outside [soc_min, soc_max] (only a state set from outside
can be). Reward = -(cost + penalty · safety), or the mean with ``share_reward``. Hard limits
are physics, not safety: a device delivers only what it can (storage within its rating and
its window [soc_min, soc_max], generators within P, Q, apparent power and power factor,
renewables at their available power), and the delivered power is what enters the power flow
and the cost.

When an episode ends, the energy its storage holds beyond what it started with is worth config
``stored_energy_value`` ($/MWh; the episode's mean price by default): the last step's cost
is less by that credit (or more, for energy drawn), shown in ``infos[a]['stored_energy_credit']``.

Actions outside the action space are clipped and flagged in ``infos[a]['action_clipped']`` (an
action equal to the space's float32 bound is inside); an action the devices cannot deliver
is flagged in ``infos[a]['action_limited']``, with ``infos[a]['delivered_action']`` what they
delivered, in the action's layout. NaN or a wrong shape raises ``ValueError``. A power flow
that does not converge never raises: every agent gets ``convergence_failure_reward`` and
``convergence_failure_safety``, and the network part of its observation keeps the last
converged values. ``protocol`` (argument) is a horizontal protocol the env mediates: with
:class:`P2PTradingProtocol`, importing microgrids bid and exporting ones ask at their
generators' marginal cost after each power flow, and cleared trades replace grid purchases.

To model another system, subclass. The earlier package's way: ``_build_agents`` returns
``PowerGridAgent``s with their nets, devices and datasets, ``_build_net`` the net they form
(e.g. one agent's), ``_reward_and_safety`` (rewards, safety) dicts from each agent's ``cost``
and ``safety``; overriding both builders selects this order (``agents_first``) and the model
is read from that net (:meth:`GridModel.from_agents`). Or override ``_build_net`` alone: set
``self.model`` (a :class:`GridModel`) and return its net; the controllers are then made over it.
"""
from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from heron.envs.heron_env import HeronEnv
from heron.messaging.memory import InMemoryBroker
from heron.protocols.base import HorizontalProtocol
from heron.protocols.horizontal import P2PTradingProtocol
from powergrid.agents.devices import Shunt, Transformer
from powergrid.agents.grid_agent import GridAgent
from powergrid.agents.registry import by_kind
from powergrid.core.actions import flags_by_agent, gather_actions, rewards
from powergrid.core.bounds import observation_bounds
from powergrid.core.config import DEFAULTS, reset_options, validated_config
from powergrid.core.model import GridModel
from powergrid.core.safety import overload, voltage_violation
from powergrid.core.step import GridCore
from powergrid.compat.env_api import EarlierEnvAPI, EpisodeFlags
from powergrid.envs.event_driven import EventDrivenGrid
from powergrid.envs.exchange import Exchange, market_cost
from powergrid.envs.remote_sites import RemoteExchange, site_exchange
from powergrid.envs.render import render
from powergrid.envs.network_proxy import NetworkStateProxy

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["NetworkedGridEnv", "voltage_violation", "overload"]


class NetworkedGridEnv(EventDrivenGrid, EarlierEnvAPI, HeronEnv):
    """PettingZoo ``ParallelEnv`` over microgrid controllers (see the module doc)."""

    metadata = {"name": "networked_grid_v0", "render_modes": ["rgb_array", "human"]}
    render_mode = None  # vector wrappers (SuperSuit) read it
    DEFAULTS: dict[str, Any] = DEFAULTS
    dt_h = GridCore.dt_h

    def __init__(self, config: Mapping[str, Any] | None = None, protocol: HorizontalProtocol | None = None,
                 render_mode: str | None = None) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        if protocol is not None and not isinstance(protocol, P2PTradingProtocol):
            raise ValueError(f"the env mediates P2PTradingProtocol between microgrids; got {type(protocol).__name__}")
        self.protocol = protocol
        cfg = self.config = validated_config(config, self.DEFAULTS)
        if isinstance(cfg["protocol"], P2PTradingProtocol):
            if protocol is not None and protocol is not cfg["protocol"]:
                raise ValueError("pass the trading protocol as the argument or as config 'protocol', not two")
            self.protocol = protocol = cfg["protocol"]
        broker = cfg["message_broker"]
        if broker == "in_memory" or (broker is None and not cfg["centralized"]):
            broker = InMemoryBroker()
        super().__init__(env_id=cfg["env_id"] or uuid.uuid4().hex[:12], message_broker=broker)
        if broker is not None:
            broker.claim_environment(self.env_id, self)
        self.centralized = bool(cfg["centralized"])
        self.max_episode_steps = int(cfg["max_episode_steps"])
        overrides = type(self)._build_net is not NetworkedGridEnv._build_net, type(self)._build_agents is not NetworkedGridEnv._build_agents
        self.agents_first = all(overrides)
        #: a subclass with its own ``_reward_and_safety`` (the earlier hook): its rewards stand
        self.scores_its_own_way = type(self)._reward_and_safety is not EarlierEnvAPI._reward_and_safety
        if self.agents_first:  # the earlier package's subclass: its agents bring their nets, devices and profiles
            self.agent_dict = self._build_agents()
            net = self._build_net()
            if not hasattr(self, "model"):
                self.model = GridModel.from_agents(cfg, net, self.agent_dict)
        elif overrides[0]:
            self.net = self._build_net()
        else:  # the net stays unread (a model from the cache folder: pandapower is not imported)
            self.model = GridModel.build(cfg)
        self.layout = self.model.layout
        self.core = GridCore(self.model, self.layout, self.model.backend(cfg["power_flow_backend"]))
        if self.agents_first:
            self._bind_agents()
        else:
            self.agent_dict: dict[str, GridAgent] = self._build_agents()
        self.possible_agents = list(self.agent_dict)
        self.agents = list(self.possible_agents)
        self.action_spaces = {a: ag.action.space for a, ag in self.agent_dict.items()}
        for a, agent in self.agent_dict.items():
            k = self.possible_agents.index(a)
            if agent.action.dim != self.layout.action_offsets[k + 1] - self.layout.action_offsets[k]:
                raise ValueError(f"agent {a!r}: its action has {agent.action.dim} entries, the model's layout has another count")
        self.observation_spaces = {}
        bounds = observation_bounds(self.core.model, self.layout)
        for a, layout, (low, high) in zip(self.possible_agents, self.layout.obs_layout, bounds):
            space = spaces.Box(low, high, dtype=np.float32)
            space.metadata = {"names": [n for n, _ in layout], "units": [u for _, u in layout]}
            self.observation_spaces[a] = space
        self.state_space = spaces.Box(-np.inf, np.inf, shape=(sum(len(x) for x in self.layout.obs_layout) + self.layout.n_bus,),
                                      dtype=np.float32)
        self.register_heron_agents(self.agent_dict.values())
        every_device = {d: dev for agent in self.agent_dict.values() for d, dev in agent.devices.items()}
        self._discrete_devices: list[Transformer | Shunt] = [every_device[d.name] for d, _ in self.layout.discrete]
        self._flat_action = np.zeros(int(self.layout.action_offsets[-1]))
        self._no_credit = np.zeros(len(self.possible_agents))
        self._started = False
        self.last_converged = False  # whether the last power flow converged
        #: distributed mode: the exchange with the sites, and the network state they were sent
        self.exchange: Exchange | None = None if self.centralized else site_exchange(self, broker, protocol)
        self.proxy_agent: NetworkStateProxy | None = None if self.exchange is None else NetworkStateProxy(self.exchange)

    # ---------------------------------------------------------- the model
    @property
    def net(self) -> pp.pandapowerNet:
        """The pandapower net: the one an overriding ``_build_net`` returned, else the model's
        (unpickled on first read when the model came from the cache folder)."""
        net = self.__dict__.get("_returned_net")
        return self.model.net if net is None else net

    @net.setter
    def net(self, net: pp.pandapowerNet) -> None:
        self._returned_net = net

    def _build_net(self) -> pp.pandapowerNet:
        """Build ``self.model`` (:class:`GridModel`) from the config; returns its fused net."""
        self.model = GridModel.build(self.config)
        return self.model.net

    def _build_agents(self) -> dict[str, GridAgent]:
        """One controller per microgrid over its devices (views onto the core's fleets)."""
        core, agents = self.core, {}
        for mg in self.model.microgrids:
            devices = []
            for dev in mg.devices:
                if dev.fleet:  # a view onto its fleet row, made by its registered type
                    fleet = core.fleets[dev.fleet]
                    devices.append(by_kind(dev.kind).agent(dev.name, fleet, dev.row, bus=int(fleet.bus[dev.row])))
                else:
                    device = Transformer(dev.name, **dev.params) if dev.kind == "oltc" else Shunt(dev.name, **dev.params)
                    device.element, device.initial = dev.row, dict(dev.params)
                    devices.append(device)
            for device in devices:
                device.dt_h = self.dt_h
            agents[mg.name] = GridAgent(mg.name, devices=devices, base_power=mg.base_power, n_buses=len(mg.bus_positions),
                                        env_id=self.env_id)
        return agents

    def _bind_agents(self) -> None:
        """The agents a subclass built (``agents_first``) act on the core's fleets from now on."""
        for mg in self.model.microgrids:
            agent = self.agent_dict[mg.name]
            agent.n_buses = len(mg.bus_positions)
            for spec in mg.devices:
                device = agent.devices[spec.name]
                device.dt_h = self.dt_h
                if spec.kind != "object":  # a device written as a class keeps its own numbers
                    device.fleet, device.index = self.core.fleets[spec.fleet], spec.row

    def _cost_and_safety(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-agent cost and safety now (a subclass's own ``_reward_and_safety`` gives rewards on top)."""
        return self.core.score()

    # The fleets, the power flow and the owners, as users of the env read them.
    generators = property(lambda self: self.core.generators)
    storage = property(lambda self: self.core.storage)
    renewables = property(lambda self: self.core.renewables)
    backend = property(lambda self: self.core.backend)
    gen_owner = property(lambda self: self.layout.gen_owner)
    ess_owner = property(lambda self: self.layout.ess_owner)
    ren_owner = property(lambda self: self.layout.ren_owner)

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
    def episode_day(self) -> int | None:
        """The day (index in its split) the current episode started on; None before ``reset``."""
        return int(self.core.start_hour) // 24 if self._started else None

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:
        return len(self.possible_agents)

    # ------------------------------------------------------------- PettingZoo
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        elif not hasattr(self, "_rng"):
            self._rng = np.random.default_rng()
        self.agents = list(self.possible_agents)
        core = self.core
        core.start_episode(self._rng, reset_options(options))
        self._write_discrete_devices()
        self._started = True
        if self.message_broker is not None:
            self.message_broker.clear_environment(self.env_id)
        if isinstance(self.exchange, RemoteExchange):  # the sites' devices back to their initial state too
            self.exchange.restart(int(core.start_hour) // 24)
        core.advance_profiles()
        core.push_devices()
        converged = self.last_converged = bool(core.solve())  # if not, the network part of the observations is the model's flat start
        observations = self._observations()
        if self.exchange is not None:
            self.exchange.last_results = self.exchange.result_payloads(converged)
            self.exchange.start_episode(observations)
        return observations, {a: {"converged": converged} for a in self.agents}

    def step(self, actions: Mapping[str, Any]):
        """One hour. A step that raises (bad input, or an error in a site, the broker or an
        override) leaves the env as it was: clock, devices, power flow, and no message of the
        step left in the broker."""
        if not self.agents or not self._started:
            raise RuntimeError("step() needs a running episode: call reset() first")
        saved = self.core.checkpoint()
        try:
            return self._step(actions)
        except BaseException as error:
            self.core.restore(saved)
            self._write_discrete_devices()
            if self.exchange is not None:
                try:
                    self.message_broker.clear_environment(self.env_id)  # between steps the env has nothing pending
                except ConnectionError:
                    pass  # the broker is gone (the error says so): nothing of the step is left on it
            if isinstance(error, ConnectionError):
                raise type(error)(f"env {self.env_id!r}, step {self.core.t + 1} rolled back: {error}") from error
            raise

    def _step(self, actions: Mapping[str, Any]):
        core = self.core
        flat, clipped = gather_actions(actions, self.possible_agents, self.agents, self.layout, self._flat_action)
        core.t += 1
        core.advance_profiles()  # the hour's loads, weather and price: devices act within what it makes available
        if self.centralized:
            core.apply_actions(flat)
            self._write_discrete_devices()
            delivered = core.delivered_actions(flat)
            core.push_devices()
            converged = bool(core.solve())
            cost, safety = self._cost_and_safety()
            if self.protocol is not None:
                cost = cost + market_cost(core, self.possible_agents, self.protocol)
            obs = self._observations()
        else:
            observations, cost, safety, converged, delivered = self.exchange.step(flat, float(core.t))
            obs = dict(zip(self.possible_agents, observations))
            if self.exchange.stale:  # a held or stale report's cost is not this step's: score those sites by the physics
                measured = self._cost_and_safety()
                for k, agent_id in enumerate(self.possible_agents):
                    if agent_id in self.exchange.stale:
                        cost[k], safety[k] = measured[0][k], measured[1][k]
        truncated = core.t >= self.max_episode_steps
        credit = core.stored_energy_credit() if truncated else self._no_credit
        if truncated:  # the energy storage holds beyond what it started with (config stored_energy_value)
            cost = cost - credit
        given = None
        if self.scores_its_own_way:
            safety, given = self._earlier_rewards(cost, safety)
        self.last_converged = converged
        reward, safety = rewards(cost, safety, converged, self.config, given)
        limited = flags_by_agent(delivered != flat, self.layout.action_bounds[-1])
        offsets = self.layout.action_offsets
        infos = {a: {"cost": c, "safety": s, "converged": converged, "action_clipped": bool(f), "action_limited": bool(lim),
                     "delivered_action": delivered[offsets[k]:offsets[k + 1]], "stored_energy_credit": e}
                 for k, (a, c, s, f, lim, e) in enumerate(zip(self.possible_agents, cost.tolist(), safety.tolist(), clipped, limited,
                                                              credit.tolist()))}
        if self.exchange is not None:  # distributed: which sites were held at what the env last heard
            for a in self.possible_agents:
                infos[a]["stale"] = a in self.exchange.stale
        terminations = EpisodeFlags.of(self.agents, False, truncated)
        truncations = EpisodeFlags.of(self.agents, truncated, truncated)
        if truncated:
            self.agents = []
        return obs, dict(zip(self.possible_agents, reward.tolist())), terminations, truncations, infos

    def state(self) -> np.ndarray:
        """Global state for centralized critics: every agent's observation, then all bus voltages."""
        if not self._started:
            raise RuntimeError("state() needs a running episode: call reset() first")
        obs = self._observations()
        return np.concatenate([obs[a] for a in self.possible_agents] + [self.core.results["vm"].astype(np.float32)])

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A copy (pickle or deepcopy) claims its env id on its own copy of the broker."""
        self.__dict__.update(state)
        if self.message_broker is not None:
            self.message_broker.claim_environment(self.env_id, self)

    def render(self) -> np.ndarray | None:
        """A picture of the network (:mod:`powergrid.envs.render`): an RGB array with
        ``render_mode='rgb_array'``, a window with ``'human'``."""
        return render(self)

    def close(self) -> None:
        """Stop remote sites, and give the env id back to the broker (which belongs to whoever passed it in)."""
        if isinstance(self.exchange, RemoteExchange):
            try:
                self.exchange.control("stop")
            except ConnectionError as error:  # sites stop on their own when the broker is gone
                warnings.warn(f"env {self.env_id!r}: its sites were not told to stop: {error}", RuntimeWarning, stacklevel=2)
        if self.message_broker is not None:
            self.message_broker.release_environment(self.env_id, self)

    # ------------------------------------------------------------ planning
    def actions_from_setpoints(self, gen_p: np.ndarray, gen_q: np.ndarray, ess_p: np.ndarray) -> dict[str, np.ndarray]:
        """Each agent's action that commands these device setpoints (arrays in fleet row order:
        ``generators``, ``storage``); tap changers and capacitor banks hold their settings."""
        return dict(zip(self.possible_agents, self.core.actions_from_setpoints(gen_p, gen_q, ess_p)))

    def what_if(self, t: int, gen_p: np.ndarray, gen_q: np.ndarray, ess_p: np.ndarray) -> dict[str, Any] | None:
        """The network at step ``t`` of this episode with these injections (see
        :meth:`GridCore.what_if`), leaving the episode as it was."""
        if not self._started:
            raise RuntimeError("what_if needs a running episode: call reset() first")
        return self.core.what_if(t, gen_p, gen_q, ess_p)

    # -------------------------------------------------------------- helpers
    def _observations(self) -> dict[str, np.ndarray]:
        return dict(zip(self.possible_agents, self.core.observations()))

    def _write_discrete_devices(self) -> None:
        """Tap changers and capacitor banks (agents users may read) take the core's settings."""
        for device, value in zip(self._discrete_devices, self.core.discrete.tolist()):
            if isinstance(device, Transformer):
                device.tap_pos = int(value)
            else:
                device.step = int(value)
