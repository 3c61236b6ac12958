"""Messages, channel naming and brokers (in-memory now; Kafka and Redis behind the same ABC)."""
from heron.messaging.base import BROADCAST, DEFAULT_ENV, Message, MessageBroker, MessageType
from heron.messaging.channels import ChannelManager
from heron.messaging.memory import InMemoryBroker

__all__ = ["BROADCAST", "DEFAULT_ENV", "ChannelManager", "InMemoryBroker", "Message", "MessageBroker", "MessageType"]
