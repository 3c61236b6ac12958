"""Models built before: in this process, and in a file for the next process.

pandapower's create functions take about a second for the default setup (seconds more when
every microgrid differs), a copy of a model built before a few ms and a model read from a
file ~50 ms. So a model is kept compiled (its layout and its power-flow backend; the net as its
pickle, read only if something asks for it) by what it depends on (the setup, the dataset
file's path, size and modification time, the operator and microgrid configs, the registered
device types, the backend): in this process (the last eight) and in a file under the cache
folder (the 64 used last): ``$POWERGRID_CACHE``, or ``$XDG_CACHE_HOME/powergrid``
(``~/.cache/powergrid``). ``POWERGRID_CACHE=off`` keeps no files.

A file also names the code that built it (a hash of the modules that shape a model, and
pandapower's and lightsim2grid's versions): a change to them builds anew. A file that cannot
be read is built again and rewritten; files are written whole or not at all (a temporary
file, then a rename), so processes that start together never read half a model. The files
are pickles: the cache folder must be as private as the code that reads it.
"""
from __future__ import annotations

import copy
import hashlib
import os
import pickle
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from powergrid.agents.registry import registrations
from powergrid.setups.loader import load_setup

__all__ = ["cached", "cache_folder"]

Model = TypeVar("Model")
_BUILT: OrderedDict[bytes, Any] = OrderedDict()
_BUILT_LIMIT = 8
FILES_LIMIT = 64  # model files kept in the folder; the least recently used go first
PACKAGE = Path(__file__).resolve().parent.parent
#: The modules whose code decides what a model holds.
SHAPING = ("core/model.py", "core/microgrids.py", "core/regulation.py", "core/agent_nets.py", "agents/fleets.py",
           "agents/devices.py", "compat/devices.py", "agents/object_fleet.py", "agents/registry.py", "setups/loader.py", "compat/config_keys.py",
           "core/layout.py", "core/net_handle.py", "networks", "powerflow")


def cached(config: Mapping[str, Any], build: Callable[[Mapping[str, Any]], Model]) -> Model:
    """A model of ``config`` of its own (a copy: every env may change its own net), built by
    ``build`` only when neither this process nor the cache folder has one."""
    key = _key(config)
    if key is None:
        return build(config)
    built = _BUILT.get(key)
    if built is None:
        built = _from_file(key)
        if built is None:
            built = build(config)
            built.config = None  # a kept model holds no env's config (its broker, its policies): copies get their own
            _to_file(key, built)
        built.seal()  # its copies share the net's pickle; those that read the net unpickle it
        _BUILT[key] = built
        if len(_BUILT) > _BUILT_LIMIT:
            _BUILT.popitem(last=False)
    _BUILT.move_to_end(key)
    model = copy.deepcopy(built)
    model.config = config
    return model


def cache_folder() -> Path | None:
    """Where model files go (None: ``POWERGRID_CACHE=off``)."""
    chosen = os.environ.get("POWERGRID_CACHE")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "no") else Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "powergrid"


def _key(config: Mapping[str, Any]) -> bytes | None:
    """What a model built from ``config`` depends on, as bytes; None when that cannot be told
    or a copy would not do: a config holding objects (devices written as classes: the env must
    drive the user's own objects, not copies), a dataset path that does not exist (the build
    itself says what is wrong)."""
    if not (_plain(config["dso_config"]) and _plain(config["microgrid_configs"])):
        return None
    try:
        setup = load_setup(config["setup"])
        path = Path(config["dataset_path"] or setup["dataset_path"]).resolve()
        stat = path.stat()
        return pickle.dumps((setup, str(path), stat.st_mtime_ns, stat.st_size, config["dso_config"],
                             config["microgrid_configs"], registrations(), config["power_flow_backend"]))
    except Exception:  # noqa: BLE001 - any failure here only means: build without the cache
        return None


def _plain(value: Any) -> bool:
    """Whether ``value`` is data only: text, numbers, None, and lists and dicts of them."""
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (str, int, float, np.integer, np.floating))


@lru_cache(maxsize=1)
def _code() -> bytes:
    """A hash of the code that shapes a model, and pandapower's and lightsim2grid's versions."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"{version('pandapower')} {version('lightsim2grid')}".encode())
    for name in SHAPING:
        for path in sorted((PACKAGE / name).rglob("*.py")) if (PACKAGE / name).is_dir() else [PACKAGE / name]:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + path.read_bytes())
    return digest.digest()


def _file(key: bytes) -> Path | None:
    folder = cache_folder()
    return None if folder is None else folder / f"model-{hashlib.sha256(_code() + key).hexdigest()[:40]}.pkl"


def _from_file(key: bytes) -> Any:
    path = _file(key)
    if path is None or not path.is_file():
        return None
    try:
        with open(path, "rb") as handle:
            model = pickle.load(handle)
    except Exception:  # noqa: BLE001 - a file cut short or from elsewhere: build again, and rewrite it
        return None
    try:
        os.utime(path)  # read now: the last to be forgotten
    except OSError:
        pass
    return model


def _to_file(key: bytes, model: Any) -> None:
    path = _file(key)
    if path is None:
        return
    try:
        data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - e.g. a device type defined inside a function: kept in this process only
        return
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".model-", delete=False) as handle:
            temporary = handle.name
            handle.write(data)
        os.replace(temporary, path)
        _forget_old(path.parent)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        warnings.warn(f"powergrid: could not keep the built model in {path.parent} ({error}); "
                      "set POWERGRID_CACHE to a writable folder, or to 'off'", RuntimeWarning, stacklevel=3)


def _forget_old(folder: Path) -> None:
    """Keep the folder to ``FILES_LIMIT`` model files, those used last."""
    files = sorted(folder.glob("model-*.pkl"), key=lambda p: p.stat().st_mtime_ns)
    for old in files[:-FILES_LIMIT]:
        old.unlink(missing_ok=True)
