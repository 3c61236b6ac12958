"""Actions with a continuous part ``c`` and a discrete part ``d``, and their Gymnasium space."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

__all__ = ["Action", "all_finite"]

RangeLike = tuple[Any, Any] | Sequence[Any] | np.ndarray | None


def all_finite(values: np.ndarray) -> bool:
    """No NaN or inf in ``values``: one sum decides unless it overflows. A short vector is summed
    in Python (numpy's reduction costs over a microsecond however short the array)."""
    if math.isfinite(sum(values.tolist()) if values.size <= 32 else values.sum()):
        return True
    return bool(np.isfinite(values).all())


class Action:
    """A mixed continuous/discrete action.

    ``c`` (float64, shape ``(dim_c,)``) lives in ``[low, high]``; ``d`` (int64, shape ``(dim_d,)``)
    holds category indices ``0 <= d[i] < ncats[i]``. The flat form (``vector()``) is ``[c..., d...]``.
    ``scale()`` maps ``c`` to ``[-1, 1]`` for policies; ``unscale(x)`` maps it back.
    ``owner`` names the agent in error messages.
    """

    __slots__ = ("c", "d", "dim_c", "dim_d", "ncats", "low", "high", "owner", "_space")

    def __init__(
        self,
        dim_c: int = 0,
        dim_d: int = 0,
        ncats: Sequence[int] | int = (),
        range: RangeLike = None,
        owner: str = "action",
    ) -> None:
        self.owner = owner
        self.set_specs(dim_c=dim_c, dim_d=dim_d, ncats=ncats, range=range)

    # ------------------------------------------------------------------ specs
    def set_specs(
        self,
        dim_c: int = 0,
        dim_d: int = 0,
        ncats: Sequence[int] | int = (),
        range: RangeLike = None,
    ) -> "Action":
        """Declare the shape: ``dim_c`` continuous entries in ``range=(low, high)`` (scalars or
        arrays; default ``(-1, 1)``) and ``dim_d`` discrete entries with ``ncats`` categories each."""
        if int(dim_c) != dim_c or dim_c < 0 or int(dim_d) != dim_d or dim_d < 0:
            raise ValueError(f"{self.owner}: dim_c and dim_d must be non-negative integers, got {dim_c!r}, {dim_d!r}")
        dim_c, dim_d = int(dim_c), int(dim_d)
        if isinstance(ncats, (int, np.integer)):
            ncats = [int(ncats)] * dim_d
        ncats_arr = np.asarray(list(ncats), dtype=np.int64)
        if ncats_arr.shape != (dim_d,):
            raise ValueError(f"{self.owner}: ncats must give one category count per discrete entry ({dim_d}), got {list(ncats)}")
        if np.any(ncats_arr < 1):
            raise ValueError(f"{self.owner}: every ncats entry must be >= 1, got {ncats_arr.tolist()}")
        if range is None:
            low, high = -1.0, 1.0
        else:
            if len(range) != 2:
                raise ValueError(f"{self.owner}: range must be (low, high), got {range!r}")
            low, high = range
        low_arr = np.broadcast_to(np.asarray(low, dtype=np.float64), (dim_c,)).copy()
        high_arr = np.broadcast_to(np.asarray(high, dtype=np.float64), (dim_c,)).copy()
        if not (np.all(np.isfinite(low_arr)) and np.all(np.isfinite(high_arr))):
            raise ValueError(f"{self.owner}: range bounds must be finite, got low={low_arr}, high={high_arr}")
        if np.any(low_arr > high_arr):
            raise ValueError(f"{self.owner}: range low must not exceed high, got low={low_arr}, high={high_arr}")
        self.dim_c, self.dim_d = dim_c, dim_d
        self.ncats = ncats_arr
        self.low, self.high = low_arr, high_arr
        self.c = np.clip(np.zeros(dim_c), low_arr, high_arr)
        self.d = np.zeros(dim_d, dtype=np.int64)
        self._space = None
        return self

    @property
    def dim(self) -> int:
        """Length of the flat vector."""
        return self.dim_c + self.dim_d

    @property
    def range(self) -> np.ndarray:
        """``(2, dim_c)`` array of low and high bounds."""
        return np.stack([self.low, self.high])

    @property
    def space(self) -> spaces.Space:
        """Box for continuous, Discrete/MultiDiscrete for discrete, Dict(c, d) for mixed.

        The same object is returned on every call (until ``set_specs`` changes the shape).
        """
        if self._space is None:
            box = spaces.Box(self.low.astype(np.float32), self.high.astype(np.float32), dtype=np.float32)
            if self.dim_d == 1:
                disc: spaces.Space = spaces.Discrete(int(self.ncats[0]))
            else:
                disc = spaces.MultiDiscrete(self.ncats.copy())
            if self.dim_d == 0:
                self._space = box
            elif self.dim_c == 0:
                self._space = disc
            else:
                self._space = spaces.Dict({"c": box, "d": disc})
        return self._space

    # ----------------------------------------------------------------- values
    def set_values(self, action: Any = None, *, c: Any = None, d: Any = None) -> "Action":
        """Set from a flat vector, a ``{'c', 'd'}`` dict, another Action, or ``c=``/``d=``.

        Wrong shapes, NaN/inf and non-integral discrete values raise ``ValueError``; values
        outside the range are kept (call ``clip()`` to bound them).
        """
        if (type(action) is np.ndarray and c is None and d is None and self.dim_d == 0
                and action.shape == self.c.shape and action.dtype.kind in "fiu" and all_finite(action)):
            self.c[:] = action  # hot path: a finite continuous setpoint
            return self
        if action is not None:
            if c is not None or d is not None:
                raise ValueError(f"{self.owner}: pass either an action or c=/d=, not both")
            if isinstance(action, Action):
                c, d = action.c, action.d
            elif isinstance(action, Mapping):
                unknown = set(action) - {"c", "d"}
                if unknown:
                    raise ValueError(f"{self.owner}: action dict keys must be 'c' and 'd', got {sorted(action)}")
                c, d = action.get("c"), action.get("d")
            else:
                flat = np.asarray(action, dtype=np.float64)
                if flat.ndim == 0 and self.dim == 1:
                    flat = flat.reshape(1)
                if flat.shape != (self.dim,):
                    raise ValueError(
                        f"{self.owner}: action has shape {flat.shape}, expected ({self.dim},) "
                        f"(dim_c={self.dim_c}, dim_d={self.dim_d})"
                    )
                c, d = flat[: self.dim_c], flat[self.dim_c:]
        if c is not None:
            c_arr = np.asarray(c, dtype=np.float64)
            if c_arr.ndim == 0 and self.dim_c == 1:
                c_arr = c_arr.reshape(1)
            if c_arr.shape != (self.dim_c,):
                raise ValueError(f"{self.owner}: continuous action has shape {c_arr.shape}, expected ({self.dim_c},)")
            if not np.all(np.isfinite(c_arr)):
                raise ValueError(f"{self.owner}: continuous action contains NaN or inf: {c_arr.tolist()}")
            self.c[:] = c_arr
        if d is not None:
            d_raw = np.asarray(d)
            if d_raw.ndim == 0 and self.dim_d == 1:
                d_raw = d_raw.reshape(1)
            if d_raw.shape != (self.dim_d,):
                raise ValueError(f"{self.owner}: discrete action has shape {d_raw.shape}, expected ({self.dim_d},)")
            d_float = d_raw.astype(np.float64)
            if not np.all(np.isfinite(d_float)) or np.any(d_float != np.round(d_float)):
                raise ValueError(f"{self.owner}: discrete action must hold whole numbers, got {d_raw.tolist()}")
            d_int = d_float.astype(np.int64)
            if np.any(d_int < 0) or np.any(d_int >= self.ncats):
                raise ValueError(
                    f"{self.owner}: discrete action {d_int.tolist()} outside [0, ncats) with ncats={self.ncats.tolist()}"
                )
            self.d[:] = d_int
        return self

    def sample(self, seed: int | np.random.Generator | None = None) -> "Action":
        """Draw uniformly within the range and categories (in place); returns self."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.c[:] = rng.uniform(self.low, self.high)
        self.d[:] = rng.integers(0, self.ncats) if self.dim_d else self.d
        return self

    def clip(self) -> "Action":
        """Bound ``c`` to its range and ``d`` to its categories (in place); returns self."""
        np.clip(self.c, self.low, self.high, out=self.c)
        np.clip(self.d, 0, self.ncats - 1, out=self.d)
        return self

    def scale(self) -> np.ndarray:
        """``c`` mapped linearly from ``[low, high]`` to ``[-1, 1]`` (0 where low == high)."""
        span = self.high - self.low
        out = np.zeros(self.dim_c)
        np.divide(2.0 * (self.c - self.low), span, out=out, where=span > 0)
        out -= 1.0
        out[span <= 0] = 0.0
        return out

    def unscale(self, x: Any) -> "Action":
        """Set ``c`` from values in ``[-1, 1]`` (the inverse of ``scale``); returns self."""
        x_arr = np.asarray(x, dtype=np.float64)
        if x_arr.ndim == 0 and self.dim_c == 1:
            x_arr = x_arr.reshape(1)
        if x_arr.shape != (self.dim_c,):
            raise ValueError(f"{self.owner}: scaled action has shape {x_arr.shape}, expected ({self.dim_c},)")
        if not np.all(np.isfinite(x_arr)):
            raise ValueError(f"{self.owner}: scaled action contains NaN or inf: {x_arr.tolist()}")
        self.c[:] = self.low + (x_arr + 1.0) * 0.5 * (self.high - self.low)
        return self

    def vector(self) -> np.ndarray:
        """Flat float64 ``[c..., d...]`` (a new array)."""
        if not self.dim_d:
            return self.c.copy()
        return np.concatenate([self.c, self.d.astype(np.float64)])

    @classmethod
    def from_vector(
        cls,
        vec: Any,
        dim_c: int,
        dim_d: int = 0,
        ncats: Sequence[int] | int = (),
        range: RangeLike = None,
        owner: str = "action",
    ) -> "Action":
        """Build an action of the given specs holding the flat vector ``vec``."""
        return cls(dim_c=dim_c, dim_d=dim_d, ncats=ncats, range=range, owner=owner).set_values(vec)

    def copy(self) -> "Action":
        """An independent action with the same specs and values."""
        out = Action(self.dim_c, self.dim_d, self.ncats, (self.low, self.high), owner=self.owner)
        out.c[:], out.d[:] = self.c, self.d
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return (
            self.dim_c == other.dim_c and self.dim_d == other.dim_d
            and np.array_equal(self.ncats, other.ncats)
            and np.array_equal(self.low, other.low) and np.array_equal(self.high, other.high)
            and np.array_equal(self.c, other.c) and np.array_equal(self.d, other.d)
        )

    def __repr__(self) -> str:
        return f"Action(c={self.c.tolist()}, d={self.d.tolist()}, range=({self.low.tolist()}, {self.high.tolist()}), ncats={self.ncats.tolist()})"
