"""Older import path of :class:`InMemoryBroker`, kept so earlier code runs unchanged."""
from heron.messaging.memory import InMemoryBroker

__all__ = ["InMemoryBroker"]
