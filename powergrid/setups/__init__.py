"""Embedded setups and the data they ship."""
from powergrid.setups.loader import get_available_setups, load_dataset, load_setup
from powergrid.setups.many import many

__all__ = ["get_available_setups", "load_dataset", "load_setup", "many"]
