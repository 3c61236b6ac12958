"""matplotlib, loaded when a picture is asked for (it is an optional dependency: the ``plot`` extra)."""
from __future__ import annotations

from typing import Any

__all__ = ["pyplot"]


def pyplot(purpose: str = "a plot") -> Any:
    """matplotlib's pyplot on a file backend, or an ImportError saying what needs it and how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"{purpose} needs matplotlib: pip install -e '.[plot]'") from None
    return plt
