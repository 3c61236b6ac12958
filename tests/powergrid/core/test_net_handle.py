"""A net held as its pickle until read: copies and pickles keep it unread, reads give each
holder a net of its own."""
import copy
import pickle

import pytest

from powergrid.core.net_handle import NetHandle
from powergrid.networks import IEEE13Bus


def test_a_sealed_handle_is_read_once_and_its_copies_stay_unread():
    handle = NetHandle(IEEE13Bus())
    buses = len(handle.net.bus)
    handle.seal()
    assert not handle.loaded
    twin, thawed = copy.deepcopy(handle), pickle.loads(pickle.dumps(handle))
    assert not twin.loaded and not thawed.loaded
    assert len(twin.net.bus) == buses and twin.loaded and not handle.loaded
    assert twin.net is twin.net and twin.net is not thawed.net


def test_a_loaded_handle_copies_its_net():
    handle = NetHandle(IEEE13Bus())
    twin = copy.deepcopy(handle)
    assert twin.loaded and twin.net is not handle.net
    twin.net.load.p_mw *= 2.0
    assert not handle.net.load.p_mw.equals(twin.net.load.p_mw)


@pytest.mark.parametrize("given", [{}, {"net": "a net", "pickled": b"its pickle"}])
def test_a_handle_takes_a_net_or_its_pickle(given):
    with pytest.raises(ValueError, match="a net or its pickle"):
        NetHandle(**given)
