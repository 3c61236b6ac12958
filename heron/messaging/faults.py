"""A fault model for distributed runs: :class:`FaultyBroker` wraps any broker and, seeded, loses,
delays, duplicates and reorders messages per channel kind.

A step of distributed mode is one exchange: each reader waits until a deadline, then goes on
with what it has. So a message's delay (``latency`` plus a normal ``jitter``, never below zero)
matters by whether it beats the ``deadline``: one that does is delivered at once; one that
does not misses its step and is delivered when the env next publishes a message of a later
step (its readers then see it is late, by its timestamp, and drop it). A lost message is never
delivered; a duplicated one is delivered twice; a reordered one is delivered after the next
message on its channel (if none follows within its step, with the next step's: late). What each reader does
about it (holds the last command or results, holds a silent site) is the reader's; counts of
what the model did are in ``counts``. Devices' state updates carry the simulation's physics
(what a device injects into the network), not communication, and are never faulted.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from heron.messaging.access import parties
from heron.messaging.base import BrokerWrapper, Message, MessageBroker, message_on

__all__ = ["Faults", "FaultyBroker", "PHYSICS"]

#: The channel kind that couples a device to the simulated network: a device's state update is
#: what it injects, so it is never delayed or lost (the network sees what the device did).
PHYSICS = "state_updates"


@dataclass(frozen=True)
class Faults:
    """What happens to the messages of one channel kind: delay (s) ``latency`` + N(0, ``jitter``),
    against a ``deadline`` (s); probabilities of ``loss``, ``duplicate`` and ``reorder``."""

    latency: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    deadline: float = 1.0

    def __post_init__(self) -> None:
        for name in ("latency", "jitter", "deadline"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"Faults {name} must be a finite number of seconds >= 0, got {value!r}")
        for name in ("loss", "duplicate", "reorder"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ValueError(f"Faults {name} must be a probability in [0, 1], got {value!r}")


class FaultyBroker(BrokerWrapper):
    """``inner`` with ``faults`` applied (see the module doc): one :class:`Faults` for every
    channel kind, or a mapping from kind (``action``, ``info``, ``state_updates``,
    ``power_flow_results``, ``site_control``...) to its faults, ``"*"`` for the others."""

    def __init__(self, inner: MessageBroker, faults: Faults | Mapping[str, Faults], seed: int | None = None) -> None:
        super().__init__(inner)
        table = {"*": faults} if isinstance(faults, Faults) else dict(faults)
        if PHYSICS in table:
            raise ValueError(f"no faults on {PHYSICS!r}: those messages are the simulation's physics (what a device injects "
                             "into the network), not communication; a fault there would let energy appear or vanish")
        for kind, value in table.items():
            if not isinstance(value, Faults):
                raise ValueError(f"faults of {kind!r} must be a Faults, got {value!r}")
        self.faults, self.seed = table, seed
        self._rng = np.random.default_rng(seed)
        self._missed: list[tuple[str, Message]] = []  # (channel, message) that missed their step's deadline
        self._swapped: dict[str, Message] = {}  # channel -> a message waiting to go after the next one
        self.counts = {"lost": 0, "late": 0, "duplicated": 0, "reordered": 0}

    def faults_of(self, channel: str) -> Faults:
        kind = parties(channel)[0]
        return Faults() if kind == PHYSICS else self.faults.get(kind, self.faults.get("*", Faults()))

    # ------------------------------------------------------------------ contract
    def publish(self, channel: str, message: Message | Mapping[str, Any]) -> None:
        message = message_on(channel, message)
        self._release_missed(message)
        f, rng = self.faults_of(channel), self._rng
        if rng.random() < f.loss:
            self.counts["lost"] += 1
            return
        copies = 2 if rng.random() < f.duplicate else 1
        self.counts["duplicated"] += copies - 1
        delay = max(0.0, f.latency + f.jitter * rng.standard_normal())
        if delay > f.deadline:
            self.counts["late"] += 1
            self._missed += [(channel, message)] * copies
            return
        if rng.random() < f.reorder and channel not in self._swapped:
            self.counts["reordered"] += 1
            self._swapped[channel] = message
            copies -= 1
        for _ in range(copies):
            self.inner.publish(channel, message)
        if channel in self._swapped and self._swapped[channel] is not message:
            self.inner.publish(channel, self._swapped.pop(channel))

    def _release_missed(self, message: Message) -> None:
        """A message of a later step in the env: what missed the earlier steps arrives now (late)."""
        if not self._missed and not self._swapped:
            return
        keep = []
        for channel, missed in self._missed:
            if missed.env_id == message.env_id and missed.timestamp < message.timestamp:
                self.inner.publish(channel, missed)
            else:
                keep.append((channel, missed))
        self._missed = keep
        for channel, held in list(self._swapped.items()):
            if held.env_id == message.env_id and held.timestamp < message.timestamp:
                self.inner.publish(channel, self._swapped.pop(channel))

    def clear_environment(self, env_id: str) -> None:
        """Forget the env's messages, held back ones included (a new episode)."""
        self._missed = [(c, m) for c, m in self._missed if m.env_id != env_id]
        self._swapped = {c: m for c, m in self._swapped.items() if m.env_id != env_id}
        self.inner.clear_environment(env_id)
