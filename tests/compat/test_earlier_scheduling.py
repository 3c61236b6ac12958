"""The earlier heron.scheduling.event and tick_config, and the scheduler calls they need."""
import numpy as np
import pytest

from heron.scheduling import EventScheduler
from heron.scheduling.event import Event, EventType
from heron.scheduling.tick_config import JitterType, TickConfig


def test_event_has_the_earlier_defaults_and_compares_by_time_priority_sequence():
    e = Event(timestamp=5.0)
    assert (e.priority, e.sequence, e.event_type, e.agent_id, e.payload) == (0, 0, EventType.AGENT_TICK, None, {})
    assert Event(1.0, priority=0, sequence=3) > Event(1.0, priority=0, sequence=1)
    assert Event(1.0, event_type=EventType.CUSTOM, agent_id="a") == Event(1.0, agent_id="b")
    assert "prio=2" in repr(Event(1.0, priority=2)) and "agent_tick" in repr(Event(1.0))


def test_the_scheduler_hands_back_the_event_it_was_given():
    s = EventScheduler()
    e = Event(timestamp=2.0, event_type=EventType.CUSTOM)
    s.schedule(e)
    assert s.peek() is e and s.pop() is e and s.pending_count == 0


def test_tick_config_draws_its_own_reproducible_jitter():
    a = TickConfig.with_jitter(tick_interval=1.0, obs_delay=0.5, jitter_type=JitterType.GAUSSIAN, seed=42)
    b = TickConfig.with_jitter(tick_interval=1.0, obs_delay=0.5, jitter_type=JitterType.GAUSSIAN, seed=42)
    first = [a.get_obs_delay() for _ in range(5)]
    assert first == [b.get_obs_delay() for _ in range(5)] and len(set(first)) > 1
    a.seed(42)
    assert [a.get_obs_delay() for _ in range(5)] == first
    assert TickConfig().rng is None and TickConfig.deterministic(2.0, 0.5).get_obs_delay() == 0.5
    u = TickConfig.with_jitter(tick_interval=0.01, jitter_type="uniform", jitter_ratio=0.9, seed=1)
    assert all(u.get_tick_interval() >= 1e-3 for _ in range(200))


@pytest.mark.parametrize("kwargs, message", [({"tick_interval": 0.0}, "tick_interval must be positive"),
                                             ({"jitter_ratio": -0.1}, "jitter_ratio must be non-negative"),
                                             ({"min_delay": -1.0}, "min_delay must be non-negative")])
def test_tick_config_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TickConfig(**kwargs)


def test_register_with_a_tick_config_and_read_the_earlier_views():
    s = EventScheduler()
    config = TickConfig.with_jitter(tick_interval=2.0, act_delay=0.5, seed=3)
    s.register_agent("a", tick_config=config)
    s.register_agent("b", tick_interval=3.0, obs_delay=0.2)
    assert s.agent_tick_configs["a"] is config and s.agent_intervals == {"a": 2.0, "b": 3.0}
    assert s.agent_act_delays["a"] == 0.5 and s.agent_obs_delays["b"] == 0.2
    s.unregister_agent("b")
    assert "b" not in s.agent_intervals and "b" not in s.agent_tick_configs


def test_schedule_agent_tick_defaults_to_one_interval_from_now():
    s = EventScheduler()
    s.register_agent("a", tick_interval=2.0)
    s.pop()
    s.current_time = 1.0
    s.schedule_agent_tick("a")
    assert s.peek().timestamp == 3.0
    with pytest.raises(ValueError, match="run back"):
        s.current_time = 0.5
    with pytest.raises(ValueError, match="past the next pending event"):
        s.current_time = 10.0


def test_events_for_agents_it_does_not_tick_reach_their_handler_once():
    s = EventScheduler()
    seen = []
    s.set_handler(EventType.AGENT_TICK, lambda e, _: seen.append(e.agent_id))
    s.schedule(Event(1.0, agent_id="stranger"))
    assert s.run_until(100.0) == 1 and seen == ["stranger"] and s.pending_count == 0


def test_run_steps_clear_and_reset_to_a_start_time():
    s = EventScheduler(start_time=0.0)
    s.register_agent("a", tick_interval=1.0)
    assert s.run_steps(10) == 10 and s.current_time == 9.0 and s.processed_count == 10
    s.clear()
    assert s.pending_count == 0 and s.current_time == 9.0
    s.reset(start_time=4.0)
    assert (s.current_time, s.processed_count, s.pending_count) == (4.0, 0, 1)
    with pytest.raises(ValueError, match="integer"):
        s.run_steps(-1)
    assert "pending=1" in repr(s)


def test_payloads_of_events_run_without_python_are_forgotten():
    s = EventScheduler()
    for i in range(500):
        s.schedule(Event(float(i), event_type=EventType.CUSTOM, payload={"i": i}))
    s.run_until(1e6)
    assert len(s._payloads) <= 64  # noqa: SLF001 - the leak this guards against is internal
