"""A second env of the same config is built from a copy of the first's model: it must be the
same model, independent of the first, and rebuilt whenever what it depends on changes."""
from __future__ import annotations

import os
import shutil

import numpy as np

from powergrid.core.model import _model_key  # the cache's key: None means build every time
from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import load_setup
from powergrid.setups.loader import load_dataset


def _observations(env: MultiAgentMicrogrids) -> np.ndarray:
    obs, _ = env.reset(seed=0)
    return np.concatenate([obs[a] for a in env.possible_agents])


def test_a_second_env_gets_an_equal_model_of_its_own():
    first = MultiAgentMicrogrids({"dso_config": {"load_scale": 0.9}})
    second = MultiAgentMicrogrids({"dso_config": {"load_scale": 0.9}})
    assert second.net is not first.net and second.core.model is not first.core.model
    assert second.core.model.config is second.config
    np.testing.assert_array_equal(_observations(first), _observations(second))
    first.net.line.loc[:, "length_km"] *= 3.0  # one env's change to its net is its own
    first.core.model.fleets["storage"].capacity[:] = 0.0
    third = MultiAgentMicrogrids({"dso_config": {"load_scale": 0.9}})
    np.testing.assert_array_equal(third.net.line.length_km.to_numpy(), second.net.line.length_km.to_numpy())
    np.testing.assert_array_equal(third.core.model.fleets["storage"].capacity, second.core.model.fleets["storage"].capacity)
    np.testing.assert_array_equal(_observations(third), _observations(second))


def test_a_different_config_or_dataset_builds_anew(tmp_path):
    base = MultiAgentMicrogrids({"dso_config": {"load_scale": 0.9}})
    scaled = MultiAgentMicrogrids({"dso_config": {"load_scale": 0.5}})
    assert not np.array_equal(_observations(base), _observations(scaled))

    path = tmp_path / "data.npz"
    shutil.copy(load_setup("ieee34_ieee13")["dataset_path"], path)
    before = MultiAgentMicrogrids({"dataset_path": str(path)})
    data = load_dataset(path)
    flat = {f"{split}/{kind}/{area}": (2.0 * series if kind == "price" else series)
            for split, kinds in data.items() for kind, areas in kinds.items() for area, series in areas.items()}
    np.savez(path, **flat)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    after = MultiAgentMicrogrids({"dataset_path": str(path)})
    assert not np.array_equal(_observations(before), _observations(after))
    assert after.core.model.profiles["test"].max() > before.core.model.profiles["test"].max()


def test_configs_holding_objects_are_not_copied():
    config = {"setup": "ieee34_ieee13", "dataset_path": None, "dso_config": {}, "microgrid_configs": [{"x": object()}]}
    assert _model_key(config) is None
    assert _model_key({**config, "microgrid_configs": None}) is not None


def test_a_copy_of_the_model_copies_nothing_of_the_first_envs_config():
    """Found by the broker-outage test: the cached model kept the first env's config, so every
    later env deep-copied that env's broker (reconnecting to a Redis that was gone)."""
    from heron.messaging.memory import InMemoryBroker

    class Uncopyable(InMemoryBroker):
        def __deepcopy__(self, memo):
            raise AssertionError("the first env's broker was copied")

    MultiAgentMicrogrids({"centralized": False, "message_broker": Uncopyable(), "dso_config": {"load_scale": 0.8}})
    second = MultiAgentMicrogrids({"centralized": False, "dso_config": {"load_scale": 0.8}})
    assert not isinstance(second.message_broker, Uncopyable)
