"""pandapower builders of the test networks; element names are prefixed by the net's name."""
from powergrid.networks.cigre import CIGRE_LV
from powergrid.networks.compose import attach_ieee13_microgrid, build_operator_network
from powergrid.networks.ieee13 import IEEE13Bus
from powergrid.networks.ieee34 import IEEE34Bus
from powergrid.networks.ieee123 import IEEE123Bus

__all__ = ["CIGRE_LV", "IEEE13Bus", "IEEE34Bus", "IEEE123Bus", "attach_ieee13_microgrid", "build_operator_network"]
