"""Reference backend: pandapower's own Newton-Raphson (runpp), warm-started from its last result."""
from __future__ import annotations

from typing import TYPE_CHECKING

from powergrid.powerflow.base import PowerFlowBackend, PowerFlowResult

if TYPE_CHECKING:
    import pandapower as pp

    from powergrid.core.net_handle import NetHandle

__all__ = ["PandapowerBackend"]


class PandapowerBackend(PowerFlowBackend):
    """Writes the injection arrays into ``net`` and runs ``pp.runpp`` (slow; for validation)."""

    name = "pandapower"

    def __init__(self, net: pp.pandapowerNet | NetHandle) -> None:
        super().__init__(net)
        net = self.net
        self._warm = False

    def _forget_start(self) -> None:
        self._warm = False

    def _start(self) -> object:
        """runpp starts from the bus results of the last solve (``init="results"``)."""
        return self.net.res_bus.copy() if self._warm else None

    def _set_start(self, start: object) -> None:
        self._warm = start is not None
        if start is not None:
            self.net.res_bus = start.copy()

    def solve(self) -> PowerFlowResult:
        import pandapower as pp
        self.check_finite()
        net = self.net
        net.load["p_mw"], net.load["q_mvar"], net.load["scaling"] = self.load_p, self.load_q, 1.0
        net.sgen["p_mw"], net.sgen["q_mvar"], net.sgen["scaling"] = self.sgen_p, self.sgen_q, 1.0
        net.storage["p_mw"], net.storage["scaling"] = self.storage_p, 1.0
        net.shunt["q_mvar"], net.shunt["step"] = self.shunt_q, 1
        if len(net.trafo):
            net.trafo["tap_pos"] = self.trafo_tap
        result = self.result
        try:
            pp.runpp(net, init="results" if self._warm else "auto", calculate_voltage_angles=True)
        except pp.LoadflowNotConverged:
            self._warm = False
            result.converged = False
            return result
        self._warm = True
        result.converged = True
        result.vm_pu[:] = net.res_bus.vm_pu.to_numpy()
        result.va_degree[:] = net.res_bus.va_degree.to_numpy()
        result.line_loading_percent[:] = net.res_line.loading_percent.to_numpy()
        result.trafo_loading_percent[:] = net.res_trafo.loading_percent.to_numpy()
        result.trafo_p_hv_mw[:] = net.res_trafo.p_hv_mw.to_numpy()
        return result
