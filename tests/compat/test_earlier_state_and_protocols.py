"""The earlier heron.core.state, protocol parts and their compositions."""
import numpy as np
import pytest

from heron.core.feature import FeatureProvider
from heron.core.state import CoordinatorAgentState, FieldAgentState
from heron.protocols import (ActionProtocol, CommunicationProtocol, ConsensusProtocol, NoActionCoordination, NoCommunication,
                             NoHorizontalProtocol, NoProtocol, P2PTradingProtocol, PriceSignalProtocol, Protocol, SetpointProtocol)
from heron.protocols.horizontal import (ConsensusCommunicationProtocol, TradingActionProtocol, TradingCommunicationProtocol)
from heron.protocols.vertical import (CentralizedActionProtocol, DecentralizedActionProtocol, PriceCommunicationProtocol,
                                      SetpointCommunicationProtocol)
from heron.core.action import Action


class Level(FeatureProvider):
    feature_name = "Level"

    def __init__(self, value=0.0, seen_by=("owner",)):
        self.value, self.start, self.seen_by = value, value, seen_by

    def vector(self):
        return np.array([self.value], np.float32)

    def names(self):
        return ["value"]

    def to_dict(self):
        return {"value": self.value}

    def set_values(self, **kw):
        self.value = kw.get("value", self.value)

    def reset(self):
        self.value = self.start

    def is_observable_by(self, requestor_id, requestor_level, owner_id, owner_level):
        return "owner" in self.seen_by and requestor_id == owner_id or "upper_level" in self.seen_by and requestor_level == owner_level + 1


def test_state_keeps_features_in_order_and_answers_by_id_and_level():
    a, b = Level(1.0), Level(2.0, seen_by=("upper_level",))
    b.feature_name = "Other"
    state = FieldAgentState(owner_id="dev", owner_level=1, features=[a, b])
    np.testing.assert_array_equal(state.vector(), [1.0, 2.0])
    assert set(state.observed_by("dev", 1)) == {"Level"} and set(state.observed_by("mg", 2)) == {"Other"}
    state.update({"Level": {"value": 5.0}})
    state.update_feature("Other", value=7.0)
    assert state.to_dict() == {"Level": {"value": 5.0}, "Other": {"value": 7.0}}
    state.reset()
    assert (a.value, b.value) == (1.0, 2.0)
    with pytest.raises(ValueError, match="no feature 'Missing'"):
        state.update({"Missing": {"value": 1.0}})
    assert CoordinatorAgentState(owner_id="mg").owner_level == 2 and len(CoordinatorAgentState().vector()) == 0


def test_a_protocol_is_its_two_parts():
    assert NoProtocol().no_op() and NoHorizontalProtocol().no_op()
    composed = Protocol(PriceCommunicationProtocol(initial_price=60.0), DecentralizedActionProtocol())
    assert not composed.no_op()
    messages, actions = composed.coordinate(None, {"a": {}, "b": {}}, 70.0)
    assert messages == {"a": {"type": "price_signal", "price": 70.0}, "b": {"type": "price_signal", "price": 70.0}}
    assert actions == {"a": None, "b": None}
    assert isinstance(SetpointProtocol().communication_protocol, SetpointCommunicationProtocol)
    assert isinstance(SetpointProtocol().action_protocol, CentralizedActionProtocol)
    assert isinstance(P2PTradingProtocol().action_protocol, TradingActionProtocol)
    assert isinstance(ConsensusProtocol().communication_protocol, ConsensusCommunicationProtocol)
    with pytest.raises(ValueError, match="CommunicationProtocol"):
        Protocol(communication_protocol="price")


def test_price_part_shares_the_protocols_price():
    protocol = PriceSignalProtocol(initial_price=50.0)
    part = protocol.communication_protocol
    part.compute_coordination_messages(None, {"a": {}}, {"coordinator_action": {"price": 80.0}})
    assert protocol.price == 80.0 == part.price


def test_setpoint_parts_split_by_the_agents_action_specs():
    class Sub:
        def __init__(self, n):
            self.action = Action(dim_c=n)

    agents = {"d1": Sub(2), "d2": Sub(1)}
    messages = SetpointCommunicationProtocol().compute_coordination_messages(
        None, {"d1": {}, "d2": {}}, {"coordinator_action": np.array([1.0, 2.0, 3.0]), "subordinates": agents})
    np.testing.assert_array_equal(messages["d1"]["setpoint"], [1.0, 2.0])
    actions = CentralizedActionProtocol().compute_action_coordination(None, {"d1": {}, "d2": {}}, messages)
    np.testing.assert_array_equal(actions["d2"], [3.0])
    _, by_id = SetpointProtocol().coordinate(None, {"d1": {}}, {"d1": [4.0, 5.0]})
    np.testing.assert_array_equal(by_id["d1"], [4.0, 5.0])
    with pytest.raises(ValueError, match="not among the subordinates"):
        SetpointProtocol().coordinate(None, {"d1": {}}, {"d9": [1.0]})


def test_trading_part_confirms_each_side_of_a_trade():
    states = {"buyer": {"net_demand": 10, "marginal_cost": 60}, "seller": {"net_demand": -10, "marginal_cost": 40},
              "idle": {"net_demand": 0, "marginal_cost": 50}}
    messages = TradingCommunicationProtocol().compute_coordination_messages(None, states)
    assert set(messages) == {"buyer", "seller"}
    (buy,), (sell,) = messages["buyer"]["trades"], messages["seller"]["trades"]
    assert (buy["counterparty"], buy["quantity"], sell["quantity"]) == ("seller", 10, -10) and 40 < buy["price"] < 60
    actions = TradingActionProtocol().compute_action_coordination(None, states, messages)
    assert actions == {"buyer": {"adjustment": 10}, "seller": {"adjustment": -10}, "idle": None}


def test_consensus_part_takes_a_topology_from_the_context():
    states = {"a": {"control_value": 10.0}, "b": {"control_value": 20.0}, "c": {"control_value": 30.0}}
    line = {"adjacency": {"a": ["b"], "b": ["a", "c"], "c": ["b"]}}
    messages = ConsensusCommunicationProtocol(max_iterations=100).compute_coordination_messages(None, states, {"topology": line})
    assert all(abs(m["consensus_value"] - 20.0) < 1e-9 for m in messages.values())
    with pytest.raises(ValueError, match="adjacency"):
        ConsensusCommunicationProtocol().compute_coordination_messages(None, states, {"topology": 3})


def test_parts_are_abstract_until_written():
    with pytest.raises(TypeError):
        CommunicationProtocol()
    with pytest.raises(TypeError):
        ActionProtocol()
    assert NoCommunication().compute_coordination_messages(None, {"x": 1}) == {"x": {}}
    assert NoActionCoordination().compute_action_coordination(None, {"x": 1}) == {"x": None}
