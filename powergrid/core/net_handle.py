"""A pandapower net that stays a pickle until something reads it.

A model read from the cache folder holds everything a step needs as arrays (its layout, its
backend's solver model); the pandapower net itself is wanted only by what reads pandapower
tables (``env.net``, rendering, the reference backend, building a batch's solver). Unpickling
a net imports pandapower (about 3 s on this machine's first import), so a model and its backend
share one handle, and the net is unpickled on first read, by whichever asks first.
"""
from __future__ import annotations

import copy
import pickle
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandapower as pp

__all__ = ["NetHandle"]


class NetHandle:
    """A net, or its pickle (see the module doc). Copies share the pickle (bytes do not change)."""

    __slots__ = ("_net", "_pickled")

    def __init__(self, net: pp.pandapowerNet | None = None, pickled: bytes | None = None) -> None:
        if (net is None) == (pickled is None):
            raise ValueError("NetHandle takes a net or its pickle, one of the two")
        self._net, self._pickled = net, pickled

    @property
    def net(self) -> pp.pandapowerNet:
        """The net, unpickled on first read."""
        if self._net is None:
            self._net, self._pickled = pickle.loads(self._pickled), None
        return self._net

    @property
    def loaded(self) -> bool:
        """Whether the net has been read (pandapower is imported)."""
        return self._net is not None

    def pickled(self) -> bytes:
        """The net's pickle."""
        return self._pickled if self._net is None else pickle.dumps(self._net, pickle.HIGHEST_PROTOCOL)

    def seal(self) -> None:
        """Hold the net as its pickle from now on (whoever shares this handle reads it anew)."""
        self._pickled, self._net = self.pickled(), None

    def __reduce__(self) -> tuple[Any, ...]:
        return NetHandle._read, (self.pickled(),)

    @staticmethod
    def _read(pickled: bytes) -> "NetHandle":
        return NetHandle(pickled=pickled)

    def __deepcopy__(self, memo: dict) -> "NetHandle":
        return NetHandle(pickled=self._pickled) if self._net is None else NetHandle(copy.deepcopy(self._net, memo))
