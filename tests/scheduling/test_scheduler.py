import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from heron.scheduling import (
    Event, EventHandlerError, EventScheduler, EventType, JitterType, ScheduleConfig, TickConfig,
)


def record_all(scheduler, trace):
    for etype in EventType:
        scheduler.set_handler(etype, lambda e, s: trace.append((e.timestamp, e.event_type.name, e.agent_id)))


class TestConfig:
    def test_alias_and_constructors(self):
        assert TickConfig is ScheduleConfig
        det = ScheduleConfig.deterministic(tick_interval=2.0, act_delay=0.3)
        assert det.jitter_type is JitterType.NONE and det.act_delay == 0.3
        jit = ScheduleConfig.with_jitter(tick_interval=1.0, jitter_type="uniform", jitter_ratio=0.2, seed=4)
        assert jit.jitter_type is JitterType.UNIFORM and jit.seed == 4

    @pytest.mark.parametrize("kwargs, match", [
        ({"tick_interval": 0.0}, "tick_interval"),
        ({"obs_delay": -0.1}, "obs_delay"),
        ({"msg_delay": math.nan}, "msg_delay"),
        ({"jitter_type": "wobbly"}, "jitter_type"),
        ({"jitter_type": JitterType.UNIFORM, "jitter_ratio": 1.5}, "uniform jitter_ratio"),
    ])
    def test_bad_values_raise(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            ScheduleConfig(**kwargs)


class TestOrdering:
    def test_time_then_priority_then_sequence(self):
        s = EventScheduler()
        s.schedule(Event(2.0, EventType.CUSTOM, payload="late"))
        s.schedule(Event(1.0, EventType.CUSTOM, payload="custom-first-inserted"))
        s.schedule(Event(1.0, EventType.ACTION_EFFECT, payload="effect"))  # priority 0 beats CUSTOM's 5
        s.schedule(Event(1.0, EventType.CUSTOM, payload="custom-second-inserted"))
        s.schedule(Event(1.0, EventType.CUSTOM, payload="explicit-priority", priority=-1))
        order = [s.pop().payload for _ in range(5)]
        assert order == ["explicit-priority", "effect", "custom-first-inserted", "custom-second-inserted", "late"]
        assert s.pop() is None and s.current_time == 2.0

    def test_random_events_come_out_sorted(self):
        rng = np.random.default_rng(1)
        s = EventScheduler(capacity=4)  # forces growth
        keys = []
        for i in range(2000):
            t, p = float(rng.integers(0, 50)), int(rng.integers(0, 3))
            seq = s.schedule(Event(t, EventType.CUSTOM, payload=i, priority=p))
            keys.append((t, p, seq))
        popped = [s.pop() for _ in range(2000)]
        assert [(e.timestamp, e.priority, e.sequence) for e in popped] == sorted(keys)

    def test_peek_leaves_the_event(self):
        s = EventScheduler()
        s.schedule(Event(3.0, EventType.CUSTOM, payload={"k": 1}))
        assert s.peek().payload == {"k": 1} and s.pending_count == 1
        assert s.pop().payload == {"k": 1} and s.pending_count == 0

    def test_bad_events_raise(self):
        s = EventScheduler(start_time=5.0)
        with pytest.raises(ValueError, match="before the current time"):
            s.schedule(Event(4.0, EventType.CUSTOM))
        with pytest.raises(ValueError, match="finite"):
            s.schedule(Event(math.nan, EventType.CUSTOM))
        with pytest.raises(ValueError, match="not registered"):
            s.schedule_action_effect("ghost", [1.0])
        with pytest.raises(ValueError, match="unknown event_type"):
            s.schedule(Event(6.0, 42))
        with pytest.raises(ValueError, match="delay must be"):
            s.register_agent("a")
            s.schedule_action_effect("a", [1.0], delay=-1.0)


class TestTicks:
    def test_heterogeneous_rates(self):
        s = EventScheduler()
        s.register_agent("fast", tick_interval=0.1)
        s.register_agent("slow", tick_interval=1.0)
        ticks = {"fast": 0, "slow": 0}
        s.set_handler(EventType.AGENT_TICK, lambda e, _: ticks.__setitem__(e.agent_id, ticks[e.agent_id] + 1))
        s.run_until(9.95)
        assert ticks == {"fast": 100, "slow": 10}
        assert s.current_time == 9.95

    def test_bare_run_needs_no_python_and_counts(self):
        s = EventScheduler()
        for i in range(10):
            s.register_agent(f"a{i}", tick_interval=1.0)
        assert s.run_until(99.5) == 1000
        assert s.processed_count == 1000 and s.pending_count == 10

    def test_max_events(self):
        s = EventScheduler()
        s.register_agent("a", tick_interval=1.0)
        assert s.run_until(100.0, max_events=7) == 7
        assert s.current_time == 6.0  # stopped at the 7th event, not at t_end
        assert s.run_until(100.0, max_events=0) == 0

    def test_process_next_runs_one_event(self):
        s = EventScheduler()
        s.register_agent("a", tick_interval=2.0)
        seen = []
        s.set_handler(EventType.AGENT_TICK, lambda e, _: seen.append(e.timestamp))
        assert s.process_next() and s.process_next()
        assert seen == [0.0, 2.0] and s.processed_count == 2
        assert not EventScheduler().process_next()

    def test_unregister_mid_run(self):
        s = EventScheduler()
        s.register_agent("stays", tick_interval=1.0)
        s.register_agent("leaves", tick_interval=1.0)
        s.schedule_action_effect("leaves", [1.0], delay=10.0)
        ticks = []

        def on_tick(event, scheduler):
            ticks.append((event.timestamp, event.agent_id))
            if event.agent_id == "leaves" and event.timestamp == 3.0:
                assert scheduler.unregister_agent("leaves") == 2  # its next tick and its action effect

        s.set_handler(EventType.AGENT_TICK, on_tick)
        s.set_handler(EventType.ACTION_EFFECT, lambda e, _: pytest.fail("effect of an unregistered agent ran"))
        s.run_until(10.5)
        assert [t for t, a in ticks if a == "leaves"] == [0.0, 1.0, 2.0, 3.0]
        assert len([t for t, a in ticks if a == "stays"]) == 11
        assert s.agents == ["stays"] and s._payloads == {}
        s.register_agent("leaves", tick_interval=1.0)  # comes back with one fresh tick
        s.run_until(12.5)
        assert [t for t, a in ticks if a == "leaves"][-4:] == [3.0, 10.5, 11.5, 12.5]

    def test_reregistering_changes_timing_without_a_second_tick(self):
        s = EventScheduler()
        s.register_agent("a", tick_interval=1.0)
        times = []
        s.set_handler(EventType.AGENT_TICK, lambda e, _: times.append(e.timestamp))
        s.run_until(2.5)
        s.register_agent("a", tick_interval=0.5)
        s.run_until(4.6)
        assert times == [0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 4.5]

    def test_reset_replays_identically(self):
        s = EventScheduler(seed=3)
        s.register_agent("a", schedule_config=ScheduleConfig.with_jitter(tick_interval=1.0, jitter_ratio=0.3))
        trace = []
        record_all(s, trace)
        s.run_until(50.0)
        first = list(trace)
        trace.clear()
        s.reset()
        assert s.current_time == 0.0 and s.processed_count == 0
        s.run_until(50.0)
        assert trace == first


class TestDelays:
    def test_action_effect_exactly_act_delay_after_tick(self):
        s = EventScheduler()
        s.register_agent("a", tick_interval=1.0, act_delay=0.25)
        effects = []
        s.set_handler(EventType.AGENT_TICK, lambda e, sch: sch.schedule_action_effect(e.agent_id, [e.timestamp]))
        s.set_handler(EventType.ACTION_EFFECT, lambda e, _: effects.append((e.payload["action"][0], e.timestamp)))
        s.run_until(5.0)
        assert effects == [(float(t), t + 0.25) for t in range(5)]

    def test_message_and_observation_defaults_use_agent_delays(self):
        s = EventScheduler()
        s.register_agent("a", msg_delay=0.05, obs_delay=0.1)
        s.register_agent("b")
        s.schedule_message_delivery("a", "b", {"hello": 1})
        s.schedule_observation_ready("a", {"obs": 1})
        s.pop(), s.pop()  # the two ticks at 0
        delivery, ready = s.pop(), s.pop()
        assert (delivery.event_type, delivery.timestamp, delivery.agent_id) == (EventType.MESSAGE_DELIVERY, 0.05, "b")
        assert delivery.payload.sender_id == "a" and delivery.payload.message == {"hello": 1}
        assert (ready.event_type, ready.timestamp) == (EventType.OBSERVATION_READY, 0.1)


class TestJitter:
    N = 20000

    def draws(self, config, kind="act"):
        s = EventScheduler()
        s.register_agent("a", schedule_config=config)
        return np.array([s.draw_delay("a", kind) for _ in range(self.N)])

    def test_uniform_bounds_and_moments(self):
        x = self.draws(ScheduleConfig.with_jitter(act_delay=0.2, jitter_type=JitterType.UNIFORM, jitter_ratio=0.1, seed=1))
        assert x.min() >= 0.18 and x.max() <= 0.22
        assert abs(x.mean() - 0.2) < 0.001
        assert abs(x.std() - 0.02 / math.sqrt(3)) < 0.0005

    def test_gaussian_moments(self):
        x = self.draws(ScheduleConfig.with_jitter(act_delay=0.2, jitter_type=JitterType.GAUSSIAN, jitter_ratio=0.1, seed=1))
        assert abs(x.mean() - 0.2) < 0.001
        assert abs(x.std() - 0.02) < 0.001

    def test_floors(self):
        config = ScheduleConfig.with_jitter(tick_interval=1.0, act_delay=0.2, jitter_type=JitterType.GAUSSIAN,
                                            jitter_ratio=3.0, min_delay=0.05, seed=2)
        assert self.draws(config).min() == 0.05
        assert self.draws(config, "tick").min() >= config.interval_floor
        assert (self.draws(config) == 0.05).mean() > 0.3  # the floor is actually reached often

    def test_jittered_tick_intervals_in_the_kernel(self):
        s = EventScheduler()
        s.register_agent("a", schedule_config=ScheduleConfig.with_jitter(tick_interval=1.0, jitter_ratio=0.1, seed=5))
        times = []
        s.set_handler(EventType.AGENT_TICK, lambda e, _: times.append(e.timestamp))
        s.run_until(5000.0)
        gaps = np.diff(times)
        assert abs(gaps.mean() - 1.0) < 0.01 and abs(gaps.std() - 0.1) < 0.01

    def test_uniform_ticks_never_leave_their_bounds(self):
        s = EventScheduler()
        s.register_agent("a", schedule_config=ScheduleConfig.with_jitter(
            tick_interval=2.0, jitter_type=JitterType.UNIFORM, jitter_ratio=0.25, seed=5))
        times = []
        s.set_handler(EventType.AGENT_TICK, lambda e, _: times.append(e.timestamp))
        s.run_until(20000.0)
        gaps = np.diff(times)
        assert gaps.min() >= 1.5 and gaps.max() <= 2.5 and abs(gaps.mean() - 2.0) < 0.02


class TestReproducibility:
    def trace(self, seed, config_seed=None):
        s = EventScheduler(seed=seed)
        for i, rate in enumerate([0.1, 0.5, 1.0]):
            s.register_agent(f"a{i}", schedule_config=ScheduleConfig.with_jitter(
                tick_interval=rate, act_delay=0.05, jitter_ratio=0.2, seed=config_seed))
        trace = []
        record_all(s, trace)
        s.set_handler(EventType.AGENT_TICK, lambda e, sch: (trace.append((e.timestamp, "tick", e.agent_id)),
                                                           sch.schedule_action_effect(e.agent_id, None)))
        s.run_until(30.0)
        return trace

    def test_same_seed_same_trace(self):
        assert self.trace(7) == self.trace(7)
        assert self.trace(7) != self.trace(8)
        assert self.trace(None, config_seed=42) == self.trace(None, config_seed=42)

    def test_agents_with_one_config_seed_still_differ(self):
        trace = self.trace(None, config_seed=42)
        gaps = {a: np.diff([t for t, k, aid in trace if k == "tick" and aid == a]) for a in ("a0", "a1")}
        assert not np.allclose(gaps["a0"][:20] / 0.1, gaps["a1"][:20] / 0.5)


def test_handler_exception_surfaces_with_its_event():
    s = EventScheduler()
    s.register_agent("a", tick_interval=1.0)

    def explode(event, scheduler):
        if event.timestamp == 2.0:
            raise KeyError("boom")

    s.set_handler(EventType.AGENT_TICK, explode)
    with pytest.raises(EventHandlerError) as info:
        s.run_until(5.0)
    assert info.value.event.timestamp == 2.0 and info.value.event.agent_id == "a"
    assert str(info.value) == "handler for the AGENT_TICK event at t=2.0 for agent 'a' raised KeyError: 'boom'"
    assert isinstance(info.value.__cause__, KeyError)
    assert s.processed_count == 3


@pytest.mark.slow  # 3 s: a second interpreter
def test_second_process_loads_kernels_from_cache():
    code = textwrap.dedent("""
        from heron._fast import event_heap as kern
        kern.warm_up()
        print(sum(len(f.stats.cache_misses) for f in kern.KERNELS))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # compiles if needed
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "0"
