"""Checks on user-given values, written once: a value is a real finite number or it is refused
with a message that names it. ``float(True)``, ``float("7")`` and ``float(10**400)`` (an
``OverflowError``) are all refused the same way."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["finite_number", "is_finite_number"]


def is_finite_number(value: Any) -> bool:
    """A real number (not a bool, a string, a complex or an array) that is finite as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond a float's range
        return False


def finite_number(value: Any, what: str, minimum: float | None = None, maximum: float | None = None,
                  above: float | None = None) -> float:
    """``value`` as a float, if it is a finite real number within the bounds (``minimum`` and
    ``maximum`` included, ``above`` excluded); else ``ValueError`` naming ``what`` and the value."""
    ok = is_finite_number(value)
    if ok:
        value = float(value)
        ok = (minimum is None or value >= minimum) and (maximum is None or value <= maximum) and (above is None or value > above)
    if not ok:
        bounds = [f">= {minimum:g}" if minimum is not None else "", f"> {above:g}" if above is not None else "",
                  f"<= {maximum:g}" if maximum is not None else ""]
        wanted = " and ".join(b for b in bounds if b)
        raise ValueError(f"{what} must be a finite number{' ' + wanted if wanted else ''}, got {value!r}")
    return value
