"""GridAgent: a microgrid controller (coordinator) over its devices."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from heron.agents.coordinator_agent import CoordinatorAgent
from powergrid.agents.devices import DeviceAgent
from powergrid.agents.site_process import Served, serve

__all__ = ["GridAgent", "NETWORK_FIELDS"]

#: Network quantities every microgrid observes after its device states, then its bus voltages.
NETWORK_FIELDS = ("load_p", "p_import", "price", "hour_sin", "hour_cos")


class GridAgent(CoordinatorAgent):
    """Directs its devices through its protocol (setpoints by default: its action is the
    devices' actions side by side). ``devices`` is an alias of ``subordinates``.

    The observation layout is fixed here, once, for both execution modes: each device's state
    (generator P, Q; storage P, soc; renewable P; tap position; capacitor step), then ``NETWORK_FIELDS``, then the voltage of
    each of the microgrid's buses. Powers are in per unit of ``base_power`` (MVA).
    """

    subordinates_label = "devices"

    def __init__(self, agent_id: str = "grid_agent", devices: Mapping[str, DeviceAgent] | Iterable[DeviceAgent] | None = None,
                 base_power: float = 1.0, n_buses: int = 0, centralized: bool = True, **kwargs: Any) -> None:
        if devices is not None and "subordinates" in kwargs:
            raise ValueError(f"agent {agent_id!r}: pass devices or subordinates, not both")
        if not (np.isfinite(base_power) and base_power > 0):
            raise ValueError(f"agent {agent_id!r}: base_power must be positive (MVA), got {base_power!r}")
        kwargs.setdefault("subordinates", devices)
        super().__init__(agent_id, **kwargs)
        self.base_power = float(base_power)
        self.n_buses = int(n_buses)
        #: the earlier keyword; the env decides the execution mode (config ``centralized``)
        self.centralized = bool(centralized)

    @property
    def devices(self) -> dict[str, DeviceAgent]:
        return self.subordinates  # type: ignore[return-value]

    @devices.setter
    def devices(self, devices: Mapping[str, DeviceAgent] | Iterable[DeviceAgent]) -> None:
        """Replace the devices (the earlier ``self.devices = {...}``)."""
        self.subordinates = {}
        self.subordinate_agents = devices

    def coordinate_device(self, obs: Any, action: Any) -> Any:
        """The earlier name of ``direct_subordinates``: pass ``action`` down through the protocol."""
        return self.direct_subordinates(action, obs)

    def device_fields(self) -> list[tuple[str, str]]:
        """(device id, state field) for each device entry of the observation."""
        return [(did, field) for did, field, _ in self._observed_fields()]

    def _observed_fields(self) -> list[tuple[str, str, bool]]:
        """(device id, state field, whether it is a power) per device entry, computed once per
        set of devices: the distributed step reads it every step."""
        cached = self.__dict__.get("_fields_cache")
        if cached is not None and cached[0] == len(self.devices):
            return cached[1]
        fields = [(did, field, power) for did, dev in self.devices.items() for field, power in getattr(dev, "observed_fields", tuple)()]
        self._fields_cache = (len(self.devices), fields)
        return fields

    @property
    def observation_dim(self) -> int:
        return len(self._observed_fields()) + len(NETWORK_FIELDS) + self.n_buses

    def observation_from(self, device_states: Mapping[str, Mapping[str, float]], network: Mapping[str, Any]) -> np.ndarray:
        """The observation vector from what the devices reported and the network results
        (the distributed mode's path; centralized mode gathers the same numbers from arrays)."""
        scale = 1.0 / self.base_power
        values = [device_states[did][field] * scale if power else device_states[did][field]
                  for did, field, power in self._observed_fields()]
        values += (network["load_p"] * scale, network["p_import"] * scale, network["price"], network["hour_sin"], network["hour_cos"])
        out = np.empty(len(values) + self.n_buses, dtype=np.float32)
        out[: len(values)] = values
        out[len(values):] = network["vm_pu"]
        return out


    def run(self, env_id: str | None = None, idle_timeout: float = 600.0, wait: float | None = None) -> Served:
        """Serve this controller and its devices as a site of the env ``env_id`` (default: the
        agent's own ``env_id``) over its ``message_broker``, until the env says stop: the
        FAQ's ``agent_mg1.run()``, on the controller's own hardware. Everything arrives as
        messages (see :func:`powergrid.agents.site_process.serve`); returns what it served
        (``steps``, ``skipped``)."""
        if self.message_broker is None:
            raise ValueError(f"agent {self.agent_id!r}: run() needs a message_broker the env can reach (e.g. RedisBroker(url))")
        return serve(self, self.message_broker, env_id if env_id is not None else self.env_id, idle_timeout, wait)
