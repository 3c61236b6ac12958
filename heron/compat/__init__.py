"""Adapters for code written against the earlier HERON/PowerGrid: the small contracts of its
modules that this package does not otherwise have. Their earlier import paths
(``heron.utils.typing``...) are alias modules that only re-export from here; every difference
from the earlier behaviour is in ``docs/compatibility.md``."""
