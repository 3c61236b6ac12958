"""Coordination protocols: vertical (setpoint, price) and horizontal (P2P trading, consensus).

Each is a communication part (messages) and an action part (setpoints), see ``base``."""
from heron.protocols.base import (ActionProtocol, CommunicationProtocol, HorizontalProtocol, NoActionCoordination, NoCommunication,
                                  NoProtocol, Protocol, VerticalProtocol)
from heron.protocols.horizontal import ConsensusProtocol, NoHorizontalProtocol, P2PTradingProtocol, PeerToPeerTradingProtocol
from heron.protocols.vertical import PriceSignalProtocol, SetpointProtocol

__all__ = [
    "ActionProtocol", "CommunicationProtocol", "ConsensusProtocol", "HorizontalProtocol", "NoActionCoordination",
    "NoCommunication", "NoHorizontalProtocol", "NoProtocol", "P2PTradingProtocol", "PeerToPeerTradingProtocol",
    "PriceSignalProtocol", "Protocol", "SetpointProtocol", "VerticalProtocol",
]
