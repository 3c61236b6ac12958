"""A picture of the network: buses coloured by voltage, each microgrid with its import and the
state of charge of its storage; the hour and the price in the title.

The layout (where each bus is drawn) is computed once from the network's topology; every
frame redraws the colours and labels. matplotlib is needed (the ``plot`` extra).
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from powergrid.core.safety import V_MAX, V_MIN
from powergrid.plotting import pyplot

__all__ = ["FeederPicture", "render"]


_PICTURES: "weakref.WeakKeyDictionary[Any, FeederPicture]" = weakref.WeakKeyDictionary()  # one per env, gone with it


def render(env: Any) -> np.ndarray | None:
    """``env.render()``: a frame in its ``render_mode``; the picture's layout is made once per env."""
    if env.render_mode is None:
        raise ValueError("render() needs render_mode: build the env with render_mode='rgb_array' or 'human'")
    if env.episode_day is None:
        raise RuntimeError("render() needs a running episode: call reset() first")
    picture = _PICTURES.get(env)
    if picture is None:
        picture = _PICTURES[env] = FeederPicture(env)
    if env.render_mode == "rgb_array":
        return picture.frame()
    picture.show()
    return None


class FeederPicture:
    """Draws frames of one env's network (``rgb_array``: an RGB array; ``human``: a window)."""

    def __init__(self, env: Any) -> None:
        self.plt = pyplot("render()")
        self.env = env
        net = env.core.model.net
        self.positions = _layout(net)
        index = {bus: k for k, bus in enumerate(net.bus.index)}
        self.edges = [(index[a], index[b]) for a, b in zip(net.line.from_bus, net.line.to_bus)]
        self.edges += [(index[a], index[b]) for a, b in zip(net.trafo.hv_bus, net.trafo.lv_bus)]
        self.microgrids = [(mg.name, mg.bus_positions) for mg in env.core.model.microgrids]

    def frame(self) -> np.ndarray:
        """The network now, as an ``(height, width, 3)`` uint8 array."""
        fig = self._figure()
        fig.canvas.draw()
        image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        self.plt.close(fig)
        return image

    def show(self) -> None:
        """The network now, in a window (non-blocking)."""
        fig = self._figure()
        self.plt.show(block=False)
        self.plt.pause(0.001)
        self.plt.close(fig)

    def _figure(self) -> Any:
        env, plt, xy = self.env, self.plt, self.positions
        core = env.core
        vm = np.asarray(core.results["vm"], dtype=float)
        fig, ax = plt.subplots(figsize=(7, 5.5), dpi=90)
        for a, b in self.edges:
            ax.plot(xy[[a, b], 0], xy[[a, b], 1], color="0.75", linewidth=1.0, zorder=1)
        dots = ax.scatter(xy[:, 0], xy[:, 1], c=vm, cmap="coolwarm", vmin=V_MIN, vmax=V_MAX, s=22, zorder=2,
                          edgecolors=np.where((vm < V_MIN) | (vm > V_MAX), "black", "none"))
        fig.colorbar(dots, ax=ax, shrink=0.7, label="voltage (pu)")
        p_import = np.asarray(core.results["p_import"], dtype=float)
        storage = env.storage
        owners = core.layout.owners["storage"]
        for k, (name, buses) in enumerate(self.microgrids):
            soc = storage.soc[owners.mask(k)] if storage.size else np.zeros(0)
            label = f"{name}\nimport {p_import[k]:+.3f} MW" + (f"\nSOC {', '.join(f'{s:.2f}' for s in soc)}" if soc.size else "")
            centre = xy[buses].mean(axis=0)
            ax.annotate(label, centre, fontsize=8, ha="center", va="center",
                        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "edgecolor": "0.6"})
        hour = int(core.hour) % 24
        price = float(np.ravel(core.price)[0])
        ax.set_title(f"step {int(core.t)}, {hour:02d}:00, price {price:.1f} $/MWh")
        ax.set_axis_off()
        fig.tight_layout()
        return fig


def _layout(net: Any) -> np.ndarray:
    """Bus positions from the network's topology (Kamada-Kawai on lines and transformers)."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(net.bus.index)
    graph.add_edges_from(zip(net.line.from_bus, net.line.to_bus))
    graph.add_edges_from(zip(net.trafo.hv_bus, net.trafo.lv_bus))
    placed = nx.kamada_kawai_layout(graph)
    return np.array([placed[bus] for bus in net.bus.index])
