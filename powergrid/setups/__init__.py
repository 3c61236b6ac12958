"""Embedded setups and the data they ship."""
from powergrid.setups.loader import get_available_setups, load_dataset, load_setup

__all__ = ["get_available_setups", "load_dataset", "load_setup"]
