import asyncio

import numpy as np
import pytest

from heron.agents import (
    COORDINATOR_LEVEL, FIELD_LEVEL, SYSTEM_LEVEL, CoordinatorAgent, FieldAgent, Proxy, ProxyAgent, SystemAgent,
)
from heron.agents.field_agent import FieldAgent as FieldAgentByModule
from heron.core import Action, FeatureProvider, Policy, RandomPolicy
from heron.messaging import ChannelManager, InMemoryBroker, Message, MessageType
from heron.protocols import NoProtocol, PriceSignalProtocol
from heron.scheduling import EventScheduler, EventType, ScheduleConfig


class ConstantPolicy(Policy):
    def __init__(self, value):
        self.value = np.asarray(value, dtype=float)

    def forward(self, obs):
        return self.value


class PriceFollower(Policy):
    """Produces less when the price is high: the action is 100 / price."""

    def __init__(self, agent):
        self.agent = agent

    def forward(self, obs):
        return [100.0 / self.agent.upstream_signal["price"]]


class Recorder(FieldAgent):
    def __init__(self, *args, **kwargs):
        self.executed = []
        super().__init__(*args, **kwargs)

    def _execute_local_action(self, action):
        self.executed.append(action.copy())


def device(name, dim=2, **kwargs):
    return Recorder(
        name,
        action=Action(dim_c=dim, range=(-1, 1)),
        state=[
            FeatureProvider("power", visibility=["owner", "coordinator"], p_mw=0.0),
            FeatureProvider("secret", visibility=["owner"], cost=1.0),
            FeatureProvider("health", visibility=["system"], temp=20.0),
        ],
        **kwargs,
    )


def test_levels_default_tick_intervals_and_module_paths():
    assert FieldAgentByModule is FieldAgent and ProxyAgent is Proxy
    assert (FIELD_LEVEL, COORDINATOR_LEVEL, SYSTEM_LEVEL) == (1, 2, 3)
    assert FieldAgent("f").tick_interval == 1.0
    assert CoordinatorAgent("c").tick_interval == 60.0
    assert SystemAgent("s").tick_interval == 300.0


def test_timing_from_keywords_or_config_not_both():
    a = FieldAgent("s1", tick_interval=0.1, obs_delay=0.01, act_delay=0.02)
    assert (a.tick_interval, a.obs_delay, a.act_delay, a.msg_delay) == (0.1, 0.01, 0.02, 0.0)
    cfg = ScheduleConfig(tick_interval=0.5, msg_delay=0.05)
    assert FieldAgent("s2", schedule_config=cfg).msg_delay == 0.05
    with pytest.raises(ValueError, match="not both"):
        FieldAgent("s3", schedule_config=cfg, tick_interval=1.0)
    with pytest.raises(ValueError, match="tick_interval must be a positive"):
        FieldAgent("s4", tick_interval=0.0)


def test_wiring_sets_upstream_and_rejects_conflicts():
    d = device("g1")
    c = CoordinatorAgent("mg1", subordinates=[d])
    assert d.upstream_id == "mg1" and c.subordinates == {"g1": d}
    with pytest.raises(ValueError, match="already reports to 'mg1'"):
        CoordinatorAgent("mg2", subordinates=[d])
    with pytest.raises(ValueError, match="already has a subordinate"):
        c.add_subordinate(d)
    with pytest.raises(ValueError, match="two different brokers"):
        FieldAgent("x", broker=InMemoryBroker(), message_broker=InMemoryBroker())


def test_setpoint_decomposition_reaches_devices():
    devs = [device(f"g{i}", dim=i + 1) for i in range(3)]
    c = CoordinatorAgent("mg1", subordinates=devs)
    assert c.action.dim == 6 and c.action_space.shape == (6,)
    c.act(upstream_action=np.linspace(-0.5, 0.5, 6))
    np.testing.assert_allclose(devs[0].action.c, [-0.5])
    np.testing.assert_allclose(devs[2].action.c, np.linspace(-0.5, 0.5, 6)[3:])
    assert len(devs[1].executed) == 1
    # adding a subordinate re-derives the layout
    c.add_subordinate(device("g3", dim=1))
    assert c.action.dim == 7


def test_bad_actions_name_agent_and_expected_shape():
    c = CoordinatorAgent("mg1", subordinates=[device("g1"), device("g2")])
    with pytest.raises(ValueError, match=r"agent 'mg1'.*shape \(3,\), expected \(4,\)"):
        c.act(upstream_action=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="agent 'mg1'.*NaN"):
        c.act(upstream_action=[0.0, np.nan, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"agent 'g1'.*shape \(1,\), expected \(2,\)"):
        c.subordinates["g1"].act(upstream_action=[0.5])
    with pytest.raises(ValueError, match="No action or policy for agent 'lonely'"):
        device("lonely").act()


def test_policy_drives_an_agent_without_setpoint():
    d = device("g1", policy=ConstantPolicy([0.25, -0.25]))
    np.testing.assert_allclose(d.act(d.observe()), [0.25, -0.25])


def test_observation_visibility_through_the_hierarchy():
    devs = [device("g1"), device("g2")]
    mg = CoordinatorAgent("mg1", subordinates=devs, state=[FeatureProvider("own", visibility=["owner", "system"], soc=0.5)])
    so = SystemAgent("so", subordinates=[mg])
    mg_view = mg.observe().local
    assert set(mg_view["subordinates"]["g1"]) == {"power"}  # not 'secret', not 'health'
    assert set(so.observe().local["subordinates"]["mg1"]) == {"own"}
    assert so.roles_toward(mg) == ("coordinator", "system")
    assert so.roles_toward(devs[0]) == ("system",)
    assert devs[0].roles_toward(devs[1]) == ("public",)
    assert mg.observe({"time": 3.0}).vector().shape == (4,)


def test_price_signal_lets_devices_decide():
    devs = [device("g1", dim=1), device("g2", dim=1)]
    for d in devs:
        d.policy = PriceFollower(d)
    mg = CoordinatorAgent("mg1", subordinates=devs, protocol=PriceSignalProtocol(initial_price=50.0),
                          policy=ConstantPolicy([200.0]))
    assert mg.action.dim == 1
    mg.act()
    assert devs[0].upstream_signal == {"price": 200.0}
    np.testing.assert_allclose(devs[1].action.c, [0.5])


def test_no_protocol_subordinates_follow_their_own_policies():
    d1 = device("g1", policy=ConstantPolicy([0.1, 0.2]))
    d2 = device("g2")  # no policy: keeps its setpoint
    mg = CoordinatorAgent("mg1", subordinates=[d1, d2], protocol=NoProtocol())
    assert mg.action.dim == 0
    mg.act()
    np.testing.assert_allclose(d1.action.c, [0.1, 0.2])
    assert d2.executed == []


def test_reset_with_seed_is_reproducible():
    def run(seed):
        d = device("g1")
        d.policy = RandomPolicy(d.action_space, seed=0)
        d.reset(seed=seed)
        return [d.act().copy() for _ in range(3)]

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_tick_schedules_the_action_after_act_delay():
    d = device("g1", policy=ConstantPolicy([0.5, 0.5]), act_delay=0.2)
    scheduler = EventScheduler()
    scheduler.register_agent("g1", schedule_config=d.schedule_config)
    assert scheduler.pop().event_type is EventType.AGENT_TICK
    d.tick(scheduler, current_time=0.0)
    effect = scheduler.peek()
    assert effect.event_type is EventType.ACTION_EFFECT and effect.timestamp == 0.2
    np.testing.assert_array_equal(effect.payload["action"], [0.5, 0.5])


def test_signal_without_policy_holds_the_action():
    d = device("g1")
    d.act(upstream_action=[0.3, 0.3])
    d.act(upstream_action={"price": 10.0})
    assert d.upstream_signal == {"price": 10.0} and len(d.executed) == 1
    np.testing.assert_array_equal(d.action.c, [0.3, 0.3])


def build(broker=None):
    devs = [device(f"g{i}") for i in range(3)]
    mg = CoordinatorAgent("mg1", subordinates=devs, upstream_id="system_operator", env_id="e1")
    return mg, devs


def test_proxy_distributed_matches_centralized():
    setpoints = [np.random.default_rng(k).uniform(-1, 1, 6) for k in range(5)]
    mg_c, devs_c = build()
    for sp in setpoints:
        mg_c.act(upstream_action=sp)

    broker = InMemoryBroker()
    mg_d, devs_d = build()
    mg_proxy = Proxy("mg1_proxy", mg_d, broker, upstream_id="system_operator")
    dev_proxies = [Proxy(f"{d.agent_id}_proxy", d, broker) for d in devs_d]
    assert mg_d.distributed and dev_proxies[0].upstream_id == "mg1"
    down = ChannelManager.action_channel("system_operator", "mg1", "e1")

    async def run():
        for k, sp in enumerate(setpoints):
            broker.publish(down, Message("e1", "system_operator", "mg1", float(k), MessageType.ACTION, {"setpoint": sp}))
            await mg_proxy.step_distributed()
            for p in dev_proxies:
                await p.step_distributed()
            reports = broker.consume(mg_proxy.report_channel, "system_operator", "e1")
            assert [m.payload["action"] for m in reports] == [sp.tolist()]

    asyncio.run(run())
    for dc, dd in zip(devs_c, devs_d):
        np.testing.assert_array_equal(dc.executed, dd.executed)
    mg_proxy.refresh_network_state()
    assert set(mg_proxy.reports) == {"g0", "g1", "g2"}
    assert broker.pending_count("e1") == 0


def test_proxy_caches_network_state_by_visibility():
    broker = InMemoryBroker()
    mg, devs = build()
    so = SystemAgent("system_operator", subordinates=[mg, CoordinatorAgent("other")], env_id="e1")
    mg_proxy = Proxy("p", mg, broker)
    dev_proxies = [Proxy(f"q{d.agent_id}", d, broker) for d in devs]
    so_proxy = Proxy("r", so, broker)
    for aid in ("mg1", "g0", "g1", "g2", "other"):
        broker.publish(ChannelManager.power_flow_result_channel("e1", aid),
                       Message("e1", "environment", aid, 0.0, MessageType.RESULT, {"v": 1.0}))
    for p in dev_proxies:
        p.step()  # no setpoint, no policy: hold the action, report what it knows
    mg_proxy.step(); mg_proxy.step()  # second step: reports include what subordinates said
    so_proxy.refresh_network_state()
    assert set(dev_proxies[0].visible_network_state()) == {"g0"}
    assert set(mg_proxy.visible_network_state()) == {"mg1", "g0", "g1", "g2"}
    assert set(mg_proxy.visible_network_state(devs[1])) == {"g1"}
    assert set(so_proxy.visible_network_state()) == {"mg1", "g0", "g1", "g2"}
    assert broker.pending_count("e1") == 1  # 'other' has no proxy: its result is still waiting


def test_proxy_forwards_price_broadcasts_as_signals():
    broker = InMemoryBroker()
    d = device("g1", dim=1, env_id="e1")
    d.policy = PriceFollower(d)
    d.upstream_id = "mg1"
    proxy = Proxy("g1_proxy", d, broker)
    broker.publish(ChannelManager.broadcast_channel("mg1", "e1"),
                   Message("e1", "mg1", "*", 0.0, MessageType.BROADCAST, {"price": 25.0}))
    action = proxy.step()
    np.testing.assert_allclose(action, [4.0])


def test_wrapped_coordinator_sets_local_subordinates_directly():
    """Only the coordinator runs behind a proxy: its devices are on its own bus (direct calls),
    so nothing is published for them and nothing is left on the broker."""
    broker = InMemoryBroker()
    mg, devs = build()
    proxy = Proxy("mg1_proxy", mg, broker, upstream_id="system_operator")
    sp = np.linspace(-0.5, 0.5, 6)
    broker.publish(ChannelManager.action_channel("system_operator", "mg1", "e1"),
                   Message("e1", "system_operator", "mg1", 0.0, MessageType.ACTION, {"setpoint": sp}))
    proxy.step()
    np.testing.assert_array_equal(np.concatenate([d.executed[-1] for d in devs]), sp)
    assert [m.payload["action"] for m in broker.consume(proxy.report_channel, "system_operator", "e1")] == [sp.tolist()]
    assert broker.pending_count() == 0


def test_wrapped_coordinator_refuses_a_mix_of_local_and_wrapped_subordinates():
    broker = InMemoryBroker()
    mg, devs = build()
    Proxy("mg1_proxy", mg, broker)
    Proxy("g0_proxy", devs[0], broker)
    with pytest.raises(ValueError, match=r"\['g0'\] run behind proxies but \['g1', 'g2'\] do not"):
        mg.act(upstream_action=np.zeros(6))


def test_subordinates_without_an_action_get_no_share_in_either_mode():
    devs = [device("g0"), device("meter", dim=0)]
    mg = CoordinatorAgent("mg1", subordinates=devs, env_id="e1")
    assert set(mg.direct_subordinates(np.ones(2))) == {"g0"}
    assert devs[1].executed == []
    assert set(mg.command_messages(np.ones(2))) == {"g0"}


def test_proxy_rejects_non_agents():
    with pytest.raises(ValueError, match="actual_agent must be an Agent"):
        Proxy("p", object(), InMemoryBroker())
    with pytest.raises(ValueError, match="no message broker"):
        mg, _ = build()
        mg.distributed = True
        mg.act(upstream_action=np.zeros(6))


@pytest.mark.parametrize("setpoint, taken", [
    (np.array([0.1, 0.2]), True), ([0.1, 0.2], True), ({"c": [0.1, 0.2]}, True),  # a vector, a list, an action dict
    (np.array([0.1, np.nan]), False), ([0.1, np.inf], False), (np.array([0.1]), False), (["a", "b"], False), (None, False),
])
def test_a_setpoint_it_cannot_execute_is_refused_and_the_last_one_held(setpoint, taken):
    broker = InMemoryBroker()
    d = device("g1", broker=broker, upstream_id="mg1", env_id="e1")
    channel = ChannelManager.action_channel("mg1", "g1", "e1")
    broker.publish(channel, Message("e1", "mg1", "g1", 1.0, MessageType.ACTION, {"setpoint": setpoint}))
    got = d.receive_commands()
    assert (got is not None) == taken and d.refused_commands == (0 if taken else 1)
