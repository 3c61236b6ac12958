"""Event scheduler throughput, side by side with a plain heapq scheduler written as the baseline.

Targets: bare scheduler with 1,000 periodic agents >= 5,000,000 events/s and >= 10x the heapq
baseline; with a Python handler on every event, the scheduler's own cost <= 1.5 us per event.
"""
import heapq

import pytest

from heron.scheduling import EventScheduler, EventType

N_AGENTS = 1000
T_END = 200.0


def intervals():
    return [1.0 + (i % 10) * 0.1 for i in range(N_AGENTS)]


class HeapqScheduler:
    """The baseline: (time, priority, sequence, type, agent) tuples in a heapq, periodic ticks."""

    TICK = 0

    def __init__(self, tick_intervals):
        self.intervals = tick_intervals
        self.queue = []
        self.seq = 0
        self.now = 0.0
        for agent in range(len(tick_intervals)):
            self.push(0.0, 4, self.TICK, agent)

    def push(self, t, priority, etype, agent):
        heapq.heappush(self.queue, (t, priority, self.seq, etype, agent))
        self.seq += 1

    def run_until(self, t_end):
        n = 0
        queue = self.queue
        while queue and queue[0][0] <= t_end:
            t, priority, _, etype, agent = heapq.heappop(queue)
            self.now = t
            if etype == self.TICK:
                self.push(t + self.intervals[agent], priority, etype, agent)
            n += 1
        return n


def numba_scheduler(handler=None):
    s = EventScheduler(seed=0)
    for i, interval in enumerate(intervals()):
        s.register_agent(f"a{i}", tick_interval=interval)
    if handler is not None:
        s.set_handler(EventType.AGENT_TICK, handler)
    return s


def expected_events():
    return HeapqScheduler(intervals()).run_until(T_END)


@pytest.mark.benchmark(group="scheduler: 1000 periodic agents, no handlers")
def test_bare_numba_heap(benchmark):
    n = benchmark.pedantic(lambda s: s.run_until(T_END), setup=lambda: ((numba_scheduler(),), {}), rounds=15, warmup_rounds=1)
    assert n == expected_events()
    benchmark.extra_info["events"] = n
    benchmark.extra_info["events_per_s_median"] = n / benchmark.stats.stats.median


@pytest.mark.benchmark(group="scheduler: 1000 periodic agents, no handlers")
def test_bare_heapq_baseline(benchmark):
    n = benchmark.pedantic(lambda s: s.run_until(T_END), setup=lambda: ((HeapqScheduler(intervals()),), {}), rounds=5)
    benchmark.extra_info["events"] = n
    benchmark.extra_info["events_per_s_median"] = n / benchmark.stats.stats.median


def noop(event, scheduler):
    pass


@pytest.mark.benchmark(group="scheduler: a Python handler on every event")
def test_python_handler_on_every_event(benchmark):
    n = benchmark.pedantic(lambda s: s.run_until(T_END / 4), setup=lambda: ((numba_scheduler(noop),), {}), rounds=10, warmup_rounds=1)
    benchmark.extra_info["events"] = n
    benchmark.extra_info["us_per_event_median_incl_handler"] = benchmark.stats.stats.median / n * 1e6


@pytest.mark.benchmark(group="scheduler: a Python handler on every event")
def test_handler_calls_alone(benchmark):
    """What calling the handler costs by itself: subtract it from the run above."""
    n = HeapqScheduler(intervals()).run_until(T_END / 4)
    events = [object()] * n

    def call_all():
        for e in events:
            noop(e, None)

    benchmark.pedantic(call_all, rounds=10)
    benchmark.extra_info["events"] = n
    benchmark.extra_info["us_per_event_median"] = benchmark.stats.stats.median / n * 1e6
