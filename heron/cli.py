"""Argument types for the command lines: a bad value is refused by argparse in one line that
says what was expected."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["whole_number", "finite_float"]


def whole_number(minimum: int, what: str | None = None) -> Callable[[str], int]:
    """A whole number of at least ``minimum`` (``what``: how the error names it)."""
    what = what or f"a whole number >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


def finite_float(minimum: float, strict: bool) -> Callable[[str], float]:
    """A finite number above ``minimum`` (or at least it, unless ``strict``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"expected a finite number {'>' if strict else '>='} {minimum:g}, got {text!r}")
        return value
    return parse
