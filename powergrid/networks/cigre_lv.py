"""The earlier module path of ``CIGRE_LV`` (defined in :mod:`powergrid.networks.cigre`)."""
from powergrid.networks.cigre import CIGRE_LV

__all__ = ["CIGRE_LV"]
