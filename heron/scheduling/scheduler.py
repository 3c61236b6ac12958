"""The event scheduler: time, priority and sequence over a Numba heap.

Python sees an event only when its type has a handler; periodic ticks are rescheduled (with
each agent's jitter) inside the kernel, so runs of handler-less events cost one kernel call.
"""
from __future__ import annotations

import math
import zlib
from typing import Any, Callable

import numpy as np

from heron._fast import heap_layout as kern
from heron.scheduling.config import ScheduleConfig, resolve_timing
from heron.scheduling.events import DEFAULT_PRIORITY, Event, EventType

__all__ = ["EventScheduler", "EventHandlerError", "Delivery"]

Handler = Callable[[Event, "EventScheduler"], Any]
#: Payload of a MESSAGE_DELIVERY event.
class Delivery(dict):
    """A MESSAGE_DELIVERY event's payload: ``{'sender', 'recipient', 'message'}`` (the earlier
    HERON's keys), also read as attributes ``sender_id``, ``recipient_id``, ``message``."""

    def __init__(self, sender_id: str, recipient_id: str, message: Any) -> None:
        super().__init__(sender=sender_id, recipient=recipient_id, message=message)

    sender_id = property(lambda self: self["sender"])
    recipient_id = property(lambda self: self["recipient"])
    message = property(lambda self: self["message"])

_TYPES = tuple(EventType)
_NO_LIMIT = np.iinfo(np.int64).max


class EventHandlerError(RuntimeError):
    """A handler raised; ``event`` is the event it was handling, ``__cause__`` the original error.
    The message leaves out the event's payload, which can be whole observations."""

    def __init__(self, event: Event, error: BaseException) -> None:
        where = f"{EventType(event.event_type).name} event at t={event.timestamp!r} for agent {event.agent_id!r}"
        super().__init__(f"handler for the {where} raised {type(error).__name__}: {error}")
        self.event = event


class EventScheduler:
    """Discrete-event scheduler for agents ticking at their own rates.

    Ties are ordered by (time, priority, sequence): priority defaults per event type
    (``DEFAULT_PRIORITY``), sequence is insertion order. Jitter draws come from one stream per
    agent, seeded from the agent's ``ScheduleConfig.seed`` or else from this scheduler's ``seed``
    (mixed with the agent id), so a run is reproducible and agents do not perturb each other.
    """

    def __init__(self, start_time: float = 0.0, seed: int | None = None, capacity: int = 1024) -> None:
        if not math.isfinite(start_time):
            raise ValueError(f"start_time must be finite, got {start_time!r}")
        self.start_time = float(start_time)
        self.seed = seed
        from heron._fast import event_heap  # Numba loads with the first scheduler, not on import

        self._kernels = event_heap
        self._T, self._H, self._E = kern.new_arrays(max(int(capacity), 4))
        self._AF = np.zeros((0, kern.A_WIDTH))
        self._I = np.zeros(kern.I_WIDTH, dtype=np.int64)
        self._I[kern.S_TICK_TYPE] = EventType.AGENT_TICK
        self._F = np.zeros(kern.F_WIDTH)
        self._F[kern.F_NOW] = self.start_time
        self._index: dict[str, int] = {}
        self._ids: list[str] = []
        self._configs: dict[str, ScheduleConfig] = {}
        self._tick_configs: dict[str, Any] = {}
        self._payloads: dict[int, Any] = {}
        self._next_payload = 0
        self._handlers: list[Handler | None] = [None] * len(EventType)
        self._out_row = self._I[kern.S_OUT:kern.S_OUT + 5]  # a view: the event handed to Python
        self._processed = 0

    # ------------------------------------------------------------------ agents
    def register_agent(
        self,
        agent_id: str,
        tick_interval: float | None = None,
        obs_delay: float | None = None,
        act_delay: float | None = None,
        schedule_config: ScheduleConfig | None = None,
        msg_delay: float | None = None,
        first_tick: float | None = None,
        tick_config: Any = None,
    ) -> None:
        """Add an agent (its first tick at ``first_tick``, default now) or update its timing.

        Re-registering an active agent changes its timing from its next tick on, without
        adding a second tick. ``tick_config`` is the earlier keyword: an object carrying a
        ``schedule_config`` (``heron.scheduling.tick_config.TickConfig``), kept as given in
        ``agent_tick_configs``.
        """
        if tick_config is not None:
            if schedule_config is not None:
                raise ValueError(f"agent {agent_id!r}: give schedule_config or tick_config, not both")
            schedule_config = getattr(tick_config, "schedule_config", tick_config)
        config = resolve_timing(agent_id, schedule_config, tick_interval=tick_interval, obs_delay=obs_delay,
                                act_delay=act_delay, msg_delay=msg_delay)
        if not isinstance(agent_id, str) or not agent_id:
            raise ValueError(f"agent_id must be a non-empty string, got {agent_id!r}")
        idx = self._row(agent_id)
        was_active = bool(self._AF[idx, kern.A_ACTIVE])
        self._configs[agent_id] = config
        self._tick_configs[agent_id] = config if tick_config is None else tick_config
        self._load_config(idx, config)
        if not was_active:
            self._AF[idx, kern.A_ACTIVE] = 1.0
            self.schedule_agent_tick(agent_id, self.current_time if first_tick is None else first_tick)

    def _row(self, agent_id: str) -> int:
        """The agent's row of the timing table, added (inactive: no ticks of its own) if new."""
        idx = self._index.get(agent_id)
        if idx is None:
            idx = len(self._ids)
            self._index[agent_id] = idx
            self._ids.append(agent_id)
            self._AF = np.vstack([self._AF, np.zeros((1, kern.A_WIDTH))])
        return idx

    def _load_config(self, idx: int, config: ScheduleConfig) -> None:
        row = self._AF[idx]
        row[kern.A_TICK] = config.tick_interval
        row[kern.A_OBS] = config.obs_delay
        row[kern.A_ACT] = config.act_delay
        row[kern.A_MSG] = config.msg_delay
        row[kern.A_RATIO] = config.jitter_ratio
        row[kern.A_MIN_DELAY] = config.min_delay
        row[kern.A_TICK_FLOOR] = config.interval_floor
        row[kern.A_JITTER] = int(config.jitter_type)
        material = config.seed if config.seed is not None else self.seed
        agent_key = zlib.crc32(self._ids[idx].encode())
        entropy = None if material is None else [int(material), agent_key]
        self._AF.view(np.uint64)[idx, kern.A_RNG] = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0]

    def unregister_agent(self, agent_id: str) -> int:
        """Stop an agent's ticks and drop its pending events; returns how many were dropped."""
        idx = self._agent_index(agent_id)
        records = self._E[self._H[: int(self._I[kern.S_SIZE]), kern.H_SLOT]]
        mine = (records[:, kern.E_AGENT] == idx) & (records[:, kern.E_PAYLOAD] >= 0)
        for pid in records[mine, kern.E_PAYLOAD]:
            self._payloads.pop(int(pid), None)
        self._AF[idx, kern.A_ACTIVE] = 0.0
        del self._configs[agent_id], self._tick_configs[agent_id]
        return int(self._kernels.remove_agent(self._T, self._H, self._E, self._I, idx))

    @property
    def agents(self) -> list[str]:
        """Ids of the registered (active) agents, in registration order."""
        return [a for a in self._ids if self._AF[self._index[a], kern.A_ACTIVE]]

    @property
    def agent_intervals(self) -> dict[str, float]:
        """Each registered agent's tick interval (s)."""
        return {agent_id: config.tick_interval for agent_id, config in self._configs.items()}

    @property
    def agent_obs_delays(self) -> dict[str, float]:
        return {agent_id: config.obs_delay for agent_id, config in self._configs.items()}

    @property
    def agent_act_delays(self) -> dict[str, float]:
        return {agent_id: config.act_delay for agent_id, config in self._configs.items()}

    @property
    def agent_tick_configs(self) -> dict[str, Any]:
        """Each agent's timing as registered (a ``TickConfig`` when given as one)."""
        return dict(self._tick_configs)

    def agent_config(self, agent_id: str) -> ScheduleConfig:
        return self._configs[agent_id]

    def _agent_index(self, agent_id: str) -> int:
        idx = self._index.get(agent_id)
        if idx is None or not self._AF[idx, kern.A_ACTIVE]:
            raise ValueError(f"agent {agent_id!r} is not registered with the scheduler; registered: {self.agents}")
        return idx

    def draw_delay(self, agent_id: str, kind: str) -> float:
        """One jittered draw of an agent's ``'obs'``, ``'act'`` or ``'msg'`` delay (or ``'tick'`` interval)."""
        idx = self._agent_index(agent_id)
        col = {"obs": kern.A_OBS, "act": kern.A_ACT, "msg": kern.A_MSG, "tick": kern.A_TICK}.get(kind)
        if col is None:
            raise ValueError(f"unknown delay kind {kind!r}; expected 'obs', 'act', 'msg' or 'tick'")
        floor = self._AF[idx, kern.A_TICK_FLOOR] if col == kern.A_TICK else self._AF[idx, kern.A_MIN_DELAY]
        return float(self._kernels.jittered(self._AF, idx, self._AF[idx, col], floor))

    # --------------------------------------------------------------- schedule
    def schedule(self, event: Event) -> int:
        """Queue ``event``; returns (and sets on it) its sequence number."""
        etype = event.event_type
        if not isinstance(etype, EventType):
            try:
                etype = EventType(etype)
            except ValueError:
                raise ValueError(f"unknown event_type {etype!r}; expected one of {[t.name for t in EventType]}") from None
        t = event.timestamp
        if not (isinstance(t, (int, float, np.floating, np.integer)) and math.isfinite(t)):
            raise ValueError(f"event time must be a finite number, got {t!r}")
        now = self._F[kern.F_NOW]
        if t < now:
            raise ValueError(f"cannot schedule {etype.name} at t={t} before the current time {now}")
        if event.agent_id is not None and not isinstance(event.agent_id, str):
            raise ValueError(f"an event's agent_id must be a string or None, got {event.agent_id!r}")
        # an event may name an agent that is not registered: its handler gets it; a tick of such an agent does not recur
        agent = -1 if event.agent_id is None else self._row(event.agent_id)
        priority = DEFAULT_PRIORITY[etype] if event.priority is None else int(event.priority)
        if not -kern.PRIO_OFFSET <= priority < kern.PRIO_OFFSET:
            raise ValueError(f"priority must be in [{-kern.PRIO_OFFSET}, {kern.PRIO_OFFSET}), got {priority}")
        payload = -1
        if event.payload is not None:
            payload = self._next_payload
            self._next_payload += 1
            self._payloads[payload] = event  # handed back as it is: peek() and pop() return this object
        if self._I[kern.S_FREE] < 0:
            self._T, self._H, self._E = kern.grow(self._T, self._H, self._E, self._I)
        seq = self._kernels.push(self._T, self._H, self._E, self._I, float(t), priority, int(etype), agent, payload)
        if seq >= kern.SEQ_LIMIT - 1:
            raise OverflowError(f"event sequence numbers exhausted after {seq} events; reset() the scheduler")
        event.event_type, event.priority, event.sequence = etype, priority, int(seq)
        return int(seq)

    def schedule_agent_tick(self, agent_id: str, time: float | None = None) -> int:
        """A tick of ``agent_id`` at ``time`` (default: one jittered tick interval from now)."""
        if time is None:
            time = self.current_time + self.draw_delay(agent_id, "tick")
        return self.schedule(Event(time, EventType.AGENT_TICK, agent_id))

    def schedule_action_effect(self, agent_id: str, action: Any, delay: float | None = None) -> int:
        """The action takes effect after ``delay`` (default: the agent's jittered ``act_delay``); the
        event's payload is ``{'action': action}``."""
        delay = self.draw_delay(agent_id, "act") if delay is None else _check_delay(delay)
        return self.schedule(Event(self.current_time + delay, EventType.ACTION_EFFECT, agent_id, {"action": action}))

    def schedule_message_delivery(self, sender_id: str, recipient_id: str, message: Any, delay: float | None = None) -> int:
        """``message`` reaches ``recipient_id`` after ``delay`` (default: the sender's jittered ``msg_delay``)."""
        if delay is None:
            delay = self.draw_delay(sender_id, "msg") if sender_id in self._index else 0.0
        else:
            delay = _check_delay(delay)
        payload = Delivery(sender_id, recipient_id, message)
        return self.schedule(Event(self.current_time + delay, EventType.MESSAGE_DELIVERY, recipient_id, payload))

    def schedule_observation_ready(self, agent_id: str, observation: Any = None, delay: float | None = None) -> int:
        """``observation`` becomes available after ``delay`` (default: the agent's jittered ``obs_delay``)."""
        delay = self.draw_delay(agent_id, "obs") if delay is None else _check_delay(delay)
        return self.schedule(Event(self.current_time + delay, EventType.OBSERVATION_READY, agent_id, observation))

    def set_handler(self, event_type: EventType, handler: Handler | None) -> None:
        """``handler(event, scheduler)`` runs for every event of the type; None removes it."""
        etype = EventType(event_type)
        if handler is not None and not callable(handler):
            raise ValueError(f"handler for {etype.name} must be callable, got {handler!r}")
        self._handlers[etype] = handler
        self._I[kern.S_HANDLED + etype] = handler is not None

    # ---------------------------------------------------------------- process
    def peek(self) -> Event | None:
        """The next event, left in the queue."""
        if not self._I[kern.S_SIZE]:
            return None
        key, slot = self._H[0].tolist()
        etype, agent, pid, _ = self._E[slot].tolist()
        prio, seq = (key >> kern.SEQ_BITS) - kern.PRIO_OFFSET, key & (kern.SEQ_LIMIT - 1)
        if pid >= 0:
            return self._payloads[pid]
        return Event(float(self._T[0]), _TYPES[etype], self._ids[agent] if agent >= 0 else None, None, prio, seq)

    def pop(self) -> Event | None:
        """Remove the next event without handling it (a popped tick is not rescheduled)."""
        if not self._kernels.pop(self._T, self._H, self._E, self._I, self._F):
            return None
        return self._out_event()

    def _out_event(self) -> Event:
        prio, seq, etype, agent, pid = self._out_row.tolist()
        if pid >= 0:
            return self._payloads.pop(pid)
        return Event(self._F.tolist()[kern.F_OUT_TIME], _TYPES[etype], self._ids[agent] if agent >= 0 else None, None, prio, seq)

    def _drop_spent_payloads(self) -> None:
        """Forget the payloads of events the kernel consumed without Python (no handler, or a
        tick turned into the agent's next one); amortized over the events run."""
        live = self._E[self._H[: int(self._I[kern.S_SIZE]), kern.H_SLOT], kern.E_PAYLOAD]
        keep = set(live[live >= 0].tolist())
        self._payloads = {pid: event for pid, event in self._payloads.items() if pid in keep}

    def run_steps(self, n: int) -> int:
        """Process at most ``n`` events (whatever their time); returns how many ran."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        return self._run(math.inf, int(n)) if n else 0

    def process_next(self) -> bool:
        """Process one event (running its handler, if any); False when the queue is empty."""
        return self._run(math.inf, 1) > 0

    def run_until(self, t_end: float, max_events: int | None = None) -> int:
        """Process events up to time ``t_end`` (at most ``max_events``); returns how many ran.

        When the queue holds nothing more up to ``t_end``, the clock moves to ``t_end``.
        """
        if math.isnan(t_end):
            raise ValueError("t_end must be a number, got nan")
        if max_events is not None and (int(max_events) != max_events or max_events < 0):
            raise ValueError(f"max_events must be a non-negative integer or None, got {max_events!r}")
        return self._run(float(t_end), _NO_LIMIT if max_events is None else int(max_events))

    def _run(self, t_end: float, max_events: int) -> int:
        I, F, run, handlers = self._I, self._F, self._kernels.run, self._handlers
        needs_python = kern.NEEDS_PYTHON
        total = 0
        try:
            while total < max_events:
                code = run(self._T, self._H, self._E, self._AF, I, F, t_end, max_events - total)
                total += code >> 2
                if code & 3 != needs_python:
                    if code & 3 != kern.MAX_EVENTS and t_end > F[kern.F_NOW] and math.isfinite(t_end):
                        F[kern.F_NOW] = t_end
                    break
                event = self._out_event()
                try:
                    handlers[event.event_type](event, self)
                except Exception as error:
                    raise EventHandlerError(event, error) from error
        finally:
            self._processed += total
            if len(self._payloads) > 2 * I[kern.S_SIZE] + 64:
                self._drop_spent_payloads()
        if I[kern.S_SEQ] >= kern.SEQ_LIMIT - 1:
            raise OverflowError("event sequence numbers exhausted; reset() the scheduler")
        return total

    # ------------------------------------------------------------------ state
    @property
    def current_time(self) -> float:
        return self._F[kern.F_NOW].item()

    @current_time.setter
    def current_time(self, t: float) -> None:
        """Move the clock forward to ``t`` (no earlier than now, nor past the next pending event)."""
        if not (isinstance(t, (int, float, np.floating, np.integer)) and math.isfinite(t)):
            raise ValueError(f"current_time must be a finite number, got {t!r}")
        if t < self.current_time:
            raise ValueError(f"the clock cannot run back from {self.current_time} to {t}")
        if self.pending_count and t > self._T[0]:
            raise ValueError(f"cannot move the clock to {t} past the next pending event at {float(self._T[0])}")
        self._F[kern.F_NOW] = float(t)

    @property
    def pending_count(self) -> int:
        return int(self._I[kern.S_SIZE])

    @property
    def processed_count(self) -> int:
        return self._processed

    def clear(self) -> None:
        """Drop every pending event; the clock and the agents' registrations stay."""
        self._T, self._H, self._E = kern.new_arrays(self._T.size)
        self._I[kern.S_SIZE] = 0
        self._I[kern.S_FREE] = 0
        self._payloads.clear()

    def __repr__(self) -> str:
        return f"EventScheduler(t={self.current_time}, pending={self.pending_count}, agents={len(self.agents)})"

    def reset(self, start_time: float | None = None) -> None:
        """Empty the queue, rewind the clock (to ``start_time``, if given), reseed every agent
        and schedule their first ticks."""
        if start_time is not None:
            if not (isinstance(start_time, (int, float, np.floating, np.integer)) and math.isfinite(start_time)):
                raise ValueError(f"start_time must be a finite number, got {start_time!r}")
            self.start_time = float(start_time)
        self._T, self._H, self._E = kern.new_arrays(self._T.size)
        self._I[kern.S_SIZE] = 0
        self._I[kern.S_SEQ] = 0
        self._I[kern.S_FREE] = 0
        self._F[kern.F_NOW] = self.start_time
        self._payloads.clear()
        self._next_payload = 0
        self._processed = 0
        for agent_id in self.agents:
            self._load_config(self._index[agent_id], self._configs[agent_id])
            self.schedule_agent_tick(agent_id, self.start_time)


def _check_delay(delay: float) -> float:
    if not (isinstance(delay, (int, float, np.floating, np.integer)) and math.isfinite(delay) and delay >= 0):
        raise ValueError(f"delay must be a finite number >= 0, got {delay!r}")
    return float(delay)
