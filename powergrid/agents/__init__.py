"""PowerGrid agents: devices (thin views onto array fleets) and microgrid controllers."""
from powergrid.agents.devices import ESS, DeviceAgent, DeviceState, Generator, Grid, Renewable, Shunt, Storage, Transformer
from powergrid.agents.fleets import GeneratorFleet, RenewableFleet, StorageFleet
from powergrid.agents.grid_agent import GridAgent
from powergrid.agents.power_grid_agent import PowerGridAgent

__all__ = [
    "DeviceAgent", "DeviceState", "ESS", "Generator", "GeneratorFleet", "Grid", "GridAgent", "PowerGridAgent",
    "Renewable", "RenewableFleet", "Shunt", "Storage", "StorageFleet", "Transformer",
]
