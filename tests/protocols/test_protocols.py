import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.core import Action
from heron.messaging import InMemoryBroker
from heron.protocols import (
    ConsensusProtocol, NoProtocol, P2PTradingProtocol, PeerToPeerTradingProtocol, PriceSignalProtocol,
    SetpointProtocol, VerticalProtocol,
)
from heron.protocols.horizontal import Order, clear_market


class TestSetpoint:
    def test_bound_layout_gives_views_and_messages(self):
        subs = {"a": Action(dim_c=2), "b": Action(dim_c=1), "c": Action(dim_c=3)}
        p = SetpointProtocol()
        p.bind(subs)
        action = np.arange(6.0)
        messages, actions = p.coordinate(None, subs, action)
        assert list(actions) == ["a", "b", "c"]
        np.testing.assert_array_equal(actions["b"], [2.0])
        np.testing.assert_array_equal(messages["c"]["setpoint"], [3.0, 4.0, 5.0])
        assert np.shares_memory(actions["a"], action)  # a view, not a copy

    def test_mixed_subordinates_get_their_c_then_d(self):
        subs = {"a": Action(dim_c=1, dim_d=1, ncats=3), "b": Action(dim_c=2), "c": Action(dim_d=1, ncats=2)}
        coord = SetpointProtocol().coordinator_action_spec(subs)
        assert (coord.dim_c, coord.dim_d) == (3, 2)
        _, actions = SetpointProtocol().coordinate(None, subs, [0.1, 0.2, 0.3, 2, 1])
        np.testing.assert_array_equal(actions["a"], [0.1, 2])
        np.testing.assert_array_equal(actions["b"], [0.2, 0.3])
        np.testing.assert_array_equal(actions["c"], [1])

    def test_batched_actions_split_along_last_axis(self):
        subs = {"a": Action(dim_c=2), "b": Action(dim_c=1)}
        _, actions = SetpointProtocol().coordinate(None, subs, np.ones((8, 3)))
        assert actions["a"].shape == (8, 2) and actions["b"].shape == (8, 1)

    def test_wrong_length_and_missing_action_raise(self):
        subs = {"a": Action(dim_c=2)}
        with pytest.raises(ValueError, match=r"expected \(\.\.\., 2\)"):
            SetpointProtocol().coordinate(None, subs, [1.0, 2.0, 3.0])
        with pytest.raises(ValueError, match="needs the coordinator's action"):
            SetpointProtocol().coordinate(None, subs)

    def test_unknown_shapes_split_evenly_or_raise(self):
        _, actions = SetpointProtocol().coordinate(None, {"a": {}, "b": {}}, [1, 2, 3, 4])
        np.testing.assert_array_equal(actions["b"], [3, 4])
        with pytest.raises(ValueError, match="cannot be split evenly"):
            SetpointProtocol().coordinate(None, {"a": {}, "b": {}}, [1, 2, 3])


def test_price_signal_from_action_context_or_memory():
    p = PriceSignalProtocol(initial_price=50.0)
    messages, actions = p.coordinate(None, {"a": {}, "b": {}})
    assert messages == {"a": {"price": 50.0}, "b": {"price": 50.0}} and actions == messages
    assert p.coordinate(None, {"a": {}}, coordinator_action=[61.0])[0]["a"]["price"] == 61.0
    assert p.coordinate(None, {"a": {}}, context={"price": 40.0})[0]["a"]["price"] == 40.0
    assert p.coordinate(None, {"a": {}})[0]["a"]["price"] == 40.0
    assert PriceSignalProtocol(price=55.0).price == 55.0
    assert PriceSignalProtocol().coordinator_action_spec({}).dim == 1


def test_no_protocol_sends_nothing():
    assert NoProtocol().coordinate(None, {"a": {}}, [1.0]) == ({"a": {}}, {"a": None})  # the earlier HERON's form
    assert NoProtocol().no_op()
    assert VerticalProtocol().coordinate(None, {"a": {}}, [1.0]) == ({}, {})


class TestP2P:
    def test_alias_and_fee_validation(self):
        assert PeerToPeerTradingProtocol is P2PTradingProtocol
        with pytest.raises(ValueError, match="trading_fee"):
            P2PTradingProtocol(trading_fee=-0.1)

    def test_simple_clearing_applies_fee(self):
        p = P2PTradingProtocol(trading_fee=0.01)
        states = {"buyer": {"net_demand": 1.0, "marginal_cost": 60.0}, "seller": {"net_demand": -2.0, "marginal_cost": 40.0}}
        messages, actions = p.coordinate(None, states)
        assert actions == {"buyer": {"adjustment": 1.0}, "seller": {"adjustment": -1.0}}
        (trade,) = p.last_trades
        assert trade.price == pytest.approx(0.5 * (40.0 + 60.0 / 1.01))
        assert trade.fee == pytest.approx(0.01 * trade.price * 1.0)
        assert messages["buyer"]["payment"] == pytest.approx(trade.price + trade.fee)
        assert messages["seller"]["payment"] == pytest.approx(-trade.price)

    def test_no_trade_when_bid_cannot_cover_ask_plus_fee(self):
        p = P2PTradingProtocol(trading_fee=0.1)
        states = {"b": {"net_demand": 1.0, "marginal_cost": 50.0}, "s": {"net_demand": -1.0, "marginal_cost": 48.0}}
        assert p.coordinate(None, states)[1] == {"b": {"adjustment": 0.0}, "s": {"adjustment": 0.0}}

    def test_missing_state_key_names_agent(self):
        with pytest.raises(ValueError, match="state of 'mg2' has no 'marginal_cost'"):
            P2PTradingProtocol().coordinate(None, {"mg2": {"net_demand": 1.0}})

    def test_distributed_matches_centralized_and_drains_broker(self):
        rng = np.random.default_rng(0)
        states = {f"mg{i}": {"net_demand": rng.normal(), "marginal_cost": rng.uniform(20, 80)} for i in range(8)}
        p = P2PTradingProtocol(trading_fee=0.02)
        broker = InMemoryBroker()
        central = p.coordinate(None, states)
        distributed = p.coordinate_distributed(broker, states, env_id="e7")
        assert distributed == central
        assert broker.pending_count() == 0


order_lists = st.lists(
    st.tuples(st.booleans(), st.floats(0.01, 10.0), st.floats(1.0, 100.0)), min_size=0, max_size=12
)


@settings(max_examples=300, deadline=None)
@given(raw=order_lists, fee=st.floats(0.0, 0.2))
def test_p2p_clearing_properties(raw, fee):
    orders = [Order(f"p{i}", "bid" if is_bid else "ask", q, price) for i, (is_bid, q, price) in enumerate(raw)]
    by_id = {o.agent_id: o for o in orders}
    trades = clear_market(orders, fee)
    bought = {o.agent_id: 0.0 for o in orders}
    sold = dict(bought)
    for t in trades:
        buyer, seller = by_id[t.buyer], by_id[t.seller]
        assert buyer.side == "bid" and seller.side == "ask"
        assert t.price * (1 + fee) <= buyer.price + 1e-9  # never above the bid, fee included
        assert t.price >= seller.price - 1e-9  # never below the offer
        assert t.fee == pytest.approx(fee * t.price * t.quantity)
        bought[t.buyer] += t.quantity
        sold[t.seller] += t.quantity
    assert sum(bought.values()) == pytest.approx(sum(sold.values()))
    for o in orders:
        assert bought[o.agent_id] <= o.quantity + 1e-9 and sold[o.agent_id] <= o.quantity + 1e-9


class TestConsensus:
    def test_centralized_is_group_mean(self):
        states = {k: {"control_value": v} for k, v in zip("abcd", [1.0, 2.0, 3.0, 10.0])}
        messages, actions = ConsensusProtocol().coordinate(None, states)
        assert all(a == {"consensus_value": 4.0} for a in actions.values())
        assert list(actions) == list("abcd") and messages["a"]["converged"]

    def test_disconnected_groups_agree_separately(self):
        c = ConsensusProtocol(topology={"a": ["b"], "c": ["d"]})
        states = {k: {"control_value": v} for k, v in zip("abcd", [0.0, 2.0, 10.0, 20.0])}
        _, actions = c.coordinate(None, states)
        assert [actions[k]["consensus_value"] for k in "abcd"] == [1.0, 1.0, 15.0, 15.0]

    @pytest.mark.parametrize("topology", [None, {"a": ["b"], "b": ["c"], "c": ["d"], "d": ["e"]}])
    def test_message_rounds_converge_to_the_same_value(self, topology):
        c = ConsensusProtocol(max_iterations=200, tolerance=1e-4, topology=topology)
        states = {k: {"control_value": v} for k, v in zip("abcde", [1.0, 5.0, -3.0, 8.0, 0.5])}
        broker = InMemoryBroker()
        _, central = c.coordinate(None, states)
        messages, distributed = c.coordinate_distributed(broker, states)
        for k in states:
            assert abs(distributed[k]["consensus_value"] - central[k]["consensus_value"]) <= c.tolerance
            assert messages[k]["converged"]
        assert broker.pending_count() == 0
        if topology is not None:
            assert c.last_iterations > 1

    def test_iteration_cap_reports_not_converged(self):
        c = ConsensusProtocol(max_iterations=2, tolerance=1e-9, topology={"a": ["b"], "b": ["c"], "c": ["d"]})
        states = {k: {"control_value": v} for k, v in zip("abcd", [0.0, 0.0, 0.0, 100.0])}
        messages, _ = c.coordinate_distributed(InMemoryBroker(), states)
        assert c.last_iterations == 2 and not messages["a"]["converged"]

    def test_bad_parameters(self):
        with pytest.raises(ValueError, match="max_iterations"):
            ConsensusProtocol(max_iterations=0)
        with pytest.raises(ValueError, match="topology names"):
            ConsensusProtocol(topology={"a": ["zz"]}).coordinate(None, {"a": {"control_value": 1.0}})
