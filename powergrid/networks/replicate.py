"""Many copies of a part at once: a feeder or a microgrid is built once, element by element, into
a net of its own, then appended to the fused net as often as it is needed, one pandas concat
per table.

pandapower's create functions cost milliseconds an element (a dtype check and a reindex each),
so a thousand microgrids built one element at a time take minutes; copied table by table they
take a fraction of a second. A copy is the part with its buses renumbered, its element names
moved to the copy's name, and its *ports* (part buses that stand for buses already in the net,
such as the operator bus a microgrid's transformer hangs from) joined to those buses.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandapower as pp
    import pandas as pd

__all__ = ["Part", "Copy", "Placed", "append_copies", "BUS_COLUMNS"]

#: The tables a part may hold, with the columns in each that name a bus.
BUS_COLUMNS = {"bus": (), "line": ("from_bus", "to_bus"), "trafo": ("hv_bus", "lv_bus"), "load": ("bus",),
               "sgen": ("bus",), "storage": ("bus",), "shunt": ("bus",)}


@dataclass(frozen=True)
class Part:
    """A net to copy, the name its elements carry (``"<name> Bus 650"``...) and its ports: the
    buses that stand for a bus of the net each copy joins (they are not copied)."""

    net: pp.pandapowerNet
    name: str
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Copy:
    """One copy of ``parts[part]``: the name its elements take instead of the part's (an element
    named ``"<part name> ..."`` becomes ``"<name> ..."``), the net bus each port joins, and
    names given element by element (``(table, part row) -> name``)."""

    part: int
    name: str
    joins: tuple[int, ...] = ()
    names: Mapping[tuple[str, int], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Placed:
    """Where a copy landed: the net row of each part row, by table (ports map to their buses)."""

    rows: Mapping[str, np.ndarray]


def append_copies(net: pp.pandapowerNet, parts: Sequence[Part], copies: Sequence[Copy]) -> list[Placed]:
    """Append ``copies`` of ``parts`` to ``net``, in order (each table gets the first copy's
    rows, then the second's...); returns where each copy landed. The net's tables must be
    indexed 0, 1, ... as pandapower's create functions leave them."""
    import pandas as pd
    for part in parts:
        extra = [t for t in _element_tables(part.net) if t not in BUS_COLUMNS]
        if extra:
            raise ValueError(f"part {part.name!r} has {extra}; a part may hold only {sorted(BUS_COLUMNS)}")
    for copy in copies:
        if len(copy.joins) != len(parts[copy.part].ports):
            raise ValueError(f"copy {copy.name!r} joins {len(copy.joins)} buses; its part has {len(parts[copy.part].ports)} ports")
    placed = [{} for _ in copies]
    bus_of = _place_buses(net, parts, copies, placed)
    for table, columns in BUS_COLUMNS.items():
        blocks, owners = [], []
        for p, part in enumerate(parts):
            mine = [k for k, copy in enumerate(copies) if copy.part == p]
            rows = part.net[table]
            if table == "bus":
                rows = rows[~rows.index.isin(part.ports)]
            if not mine or not len(rows):
                continue
            block = rows.iloc[np.tile(np.arange(len(rows)), len(mine))].copy()
            for column in columns:  # (copies, part buses) -> the net bus of each row's bus
                where = part.net.bus.index.get_indexer(rows[column])
                block[column] = np.stack([bus_of[k][where] for k in mine]).ravel().astype(rows[column].dtype)
            block["name"] = _names(rows["name"].tolist(), part.name, [copies[k] for k in mine], table, rows.index)
            blocks.append(block)
            owners.append(np.repeat(mine, len(rows)))
        first = len(net[table])
        if not blocks:
            for rows in placed:
                rows.setdefault(table, np.zeros(0, dtype=np.int64))
            continue
        owner = np.concatenate(owners)
        order = np.argsort(owner, kind="stable")  # copy by copy, each copy's rows in part order
        new = pd.concat(blocks).iloc[order]
        new.index = pd.Index(np.arange(first, first + len(new), dtype=np.int64))  # as pandapower numbers rows
        if table != "bus":
            bounds = np.searchsorted(owner[order], np.arange(len(copies) + 1))
            for k, rows in enumerate(placed):
                rows[table] = np.arange(first + bounds[k], first + bounds[k + 1], dtype=np.int64)
        net[table] = pd.concat([net[table], new]) if len(net[table]) else new
    return [Placed(rows) for rows in placed]


def _place_buses(net: pp.pandapowerNet, parts: Sequence[Part], copies: Sequence[Copy],
                 placed: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
    """The net bus of each part bus, copy by copy (new buses numbered after the net's)."""
    next_bus = len(net.bus)
    bus_of = []
    for k, copy in enumerate(copies):
        part = parts[copy.part]
        index = part.net.bus.index
        target = np.empty(len(index), dtype=np.int64)
        is_port = index.isin(part.ports)
        fresh = int((~is_port).sum())
        target[~is_port] = np.arange(next_bus, next_bus + fresh)
        for port, bus in zip(part.ports, copy.joins):
            if bus not in net.bus.index:
                raise ValueError(f"copy {copy.name!r}: joins bus {bus}, which the net lacks")
            target[index.get_loc(port)] = bus
        placed[k]["bus"] = target
        next_bus += fresh
        bus_of.append(target)
    return bus_of


def _names(names: list[object], old: str, copies: Sequence[Copy], table: str, index: pd.Index) -> list[object]:
    """The part's element names for each copy: ``"<old> ..."`` -> ``"<copy name> ..."``, other
    names as they are, then the names given element by element."""
    cut = len(old)
    prefixed = [isinstance(n, str) and n.startswith(old + " ") for n in names]
    out = []
    for copy in copies:
        named = [copy.name + n[cut:] if p else n for n, p in zip(names, prefixed)]
        for (name_table, row), name in copy.names.items():
            if name_table == table:
                named[index.get_loc(row)] = name
        out += named
    return out


def _element_tables(net: pp.pandapowerNet) -> list[str]:
    """The names of ``net``'s element tables that hold rows (results and settings left out)."""
    import pandas as pd
    return [k for k, v in net.items() if isinstance(v, pd.DataFrame) and len(v) and not k.startswith(("res_", "_"))
            and k not in ("std_types", "bus_geodata", "line_geodata")]
