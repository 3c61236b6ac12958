"""Setups (a config plus its data: shipped ones, or your own folder) and datasets (``.npz``, or a
pickle in the earlier format)."""
from __future__ import annotations

import copy
import json
import pickle
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_setup", "get_available_setups", "load_dataset", "DATASET_KINDS", "shifted", "day_shift"]

HERE = Path(__file__).resolve().parent
_SHIFTED = re.compile(r"^(?P<area>.+)\+(?P<days>\d+)d$")
DATASET_KINDS = ("load", "solar", "wind", "price")


def get_available_setups() -> list[str]:
    """Names of the setups shipped with the package."""
    return sorted(p.stem for p in HERE.glob("*.json"))


def load_setup(name: str | Path) -> dict[str, Any]:
    """A setup's config (a fresh copy) with ``dataset_path`` resolved to an absolute path (and,
    for a shipped setup, ``setup`` naming it).

    ``name`` is a shipped setup (:func:`get_available_setups`), or a setup of your own: a folder
    holding ``config.yml`` (the earlier package's layout, e.g. with a ``data.pkl``) or the path
    of a ``.yml``/``.json`` config; its ``dataset_path`` is relative to the config's folder.
    """
    name = str(name)
    if "/" not in name and (HERE / f"{name}.json").is_file():
        return copy.deepcopy(_shipped_setup(name))
    return _own_setup(name)


@lru_cache(maxsize=None)
def _shipped_setup(name: str) -> dict[str, Any]:
    """A shipped setup (read once: the package's files do not change while it runs)."""
    config = json.loads((HERE / f"{name}.json").read_text())
    config["dataset_path"] = str(HERE / config.pop("dataset"))
    config["setup"] = name  # the env builds on this setup's operator network, not the default's
    return config


def _own_setup(name: str) -> dict[str, Any]:
    """A setup of your own, read at every call: you may edit it between two."""
    path = Path(name)
    if path.is_dir():
        path = path / "config.yml"
    if not path.is_file():
        raise ValueError(f"unknown setup {name!r}: neither a shipped setup ({get_available_setups()}) nor a config "
                         "file or a folder holding config.yml")
    text = path.read_text()
    config = json.loads(text) if path.suffix == ".json" else _yaml(text, path)
    if not isinstance(config, dict):
        raise ValueError(f"setup {str(path)!r} must hold a mapping of config keys, got {type(config).__name__}")
    if config.get("dataset_path") is not None:
        data = path.parent / str(config["dataset_path"])
        if not data.exists():
            raise FileNotFoundError(f"setup {str(path)!r}: dataset_path {str(data)!r} does not exist")
        config["dataset_path"] = str(data.resolve())
    return config


def _yaml(text: str, path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"setup {str(path)!r} is not valid YAML: {error}") from None


def load_dataset(path: str | Path) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """``{'train'|'test': {'load'|'solar'|'wind'|'price': {area: float64 array}}}``.

    Reads the shipped ``.npz`` or a pickle in the earlier format (same nesting). A path that
    does not exist raises ``FileNotFoundError``; a missing split or kind, or an empty or
    non-numeric profile, raises ``ValueError`` naming it.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"dataset_path {str(path)!r} does not exist")
    if not p.is_file():
        raise ValueError(f"dataset_path {str(path)!r} is not a file")
    stat = p.stat()
    return copy.deepcopy(_read_dataset(str(p), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=8)
def _read_dataset(path: str, mtime_ns: int, size: int) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Parsed once per file version (path, modification time, size)."""
    p = Path(path)
    if p.suffix == ".npz":
        data: dict[str, Any] = {}
        with np.load(p) as npz:
            for key in npz.files:
                split, kind, area = key.split("/")
                data.setdefault(split, {}).setdefault(kind, {})[area] = npz[key]
    else:
        with open(p, "rb") as f:
            data = pickle.load(f)
    return _validated(data, path)


def _validated(data: Any, path: str) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    if not isinstance(data, dict):
        raise ValueError(f"dataset {path!r} must be a dict with 'train' and 'test', got {type(data).__name__}")
    out: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for split in ("train", "test"):
        if split not in data:
            raise ValueError(f"dataset {path!r} has no {split!r} split; it has {sorted(data)}")
        out[split] = {}
        for kind in DATASET_KINDS:
            profiles = data[split].get(kind)
            if not isinstance(profiles, dict) or not profiles:
                raise ValueError(f"dataset {path!r}: {split}/{kind} must be a non-empty dict of area -> profile")
            out[split][kind] = {}
            for area, values in profiles.items():
                arr = np.asarray(values, dtype=np.float64).reshape(-1)
                if arr.size < 48 or not np.all(np.isfinite(arr)):
                    raise ValueError(f"dataset {path!r}: {split}/{kind}/{area} needs at least 48 finite hourly values")
                out[split][kind][str(area)] = arr
    return out


def shifted(area: str, days: int) -> str:
    """The name of ``area``'s profiles ``days`` days later: ``"AVA+3d"`` (``area`` itself for 0).
    A model reads such an area as its base area's profile rolled by whole days within each
    split (the last days wrap round to the first), so many microgrids can share a dataset
    without sharing a profile."""
    return area if days == 0 else f"{area}+{int(days)}d"


def day_shift(area: str) -> tuple[str, int]:
    """``"AVA+3d"`` -> ``("AVA", 3)``; an area without a shift -> ``(area, 0)``."""
    match = _SHIFTED.match(area)
    return (match["area"], int(match["days"])) if match else (area, 0)
