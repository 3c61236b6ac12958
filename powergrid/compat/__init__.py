"""Adapters for code written against the earlier HERON/PowerGrid's ``powergrid`` package: its
small contracts that this package does not otherwise have. Their earlier import paths
(``powergrid.utils.cost``...) are alias modules that only re-export from here; every difference
from the earlier behaviour is in ``docs/compatibility.md``."""
