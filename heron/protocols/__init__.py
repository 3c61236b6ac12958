"""Coordination protocols: vertical (setpoint, price) and horizontal (P2P trading, consensus)."""
from heron.protocols.base import HorizontalProtocol, NoProtocol, Protocol, VerticalProtocol
from heron.protocols.horizontal import ConsensusProtocol, P2PTradingProtocol, PeerToPeerTradingProtocol
from heron.protocols.vertical import PriceSignalProtocol, SetpointProtocol

__all__ = [
    "ConsensusProtocol", "HorizontalProtocol", "NoProtocol", "P2PTradingProtocol", "PeerToPeerTradingProtocol",
    "PriceSignalProtocol", "Protocol", "SetpointProtocol", "VerticalProtocol",
]
