"""Numba kernels for the event queue: a binary min-heap over parallel arrays.

Layout (all arrays owned by :class:`heron.scheduling.EventScheduler`):

- Heap, in heap order: ``T[i]`` time and ``H[i] = (key, slot)``, where
  ``key = (priority + PRIO_OFFSET) << SEQ_BITS | sequence`` makes (time, priority, sequence) a
  two-field comparison, and ``slot`` points at the event's record.
- Records, by slot: ``E[slot] = (type, agent, payload, next_free)``; free slots form a list.
  Moving a heap entry moves three numbers; a rescheduled tick keeps its record.
- ``AF[a]`` per-agent parameters (columns ``A_*``); column ``A_RNG`` holds the agent's
  splitmix64 state as raw bits: each agent draws jitter from its own stream.
- ``I`` int state (``S_*``): heap size, next sequence, free-list head, the event handed to
  Python and, per event type, whether Python handles it. ``F`` float state: now, out time.

``run`` processes events in order inside Numba, rescheduling periodic ticks itself (the tick
and its successor share one sift-down), and returns to Python only at ``t_end``, after
``max_events``, or with an event whose type has a Python handler. Sift-down is Floyd's
bottom-up variant with a branch-free choice of child: it costs half the comparisons and
avoids the mispredictions that dominate a textbook heap.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from heron._fast.heap_layout import (  # noqa: F401  (the layout the kernels compile against)
    A_ACTIVE, A_ACT, A_JITTER, A_MIN_DELAY, A_MSG, A_OBS, A_RATIO, A_RNG, A_TICK, A_TICK_FLOOR, A_WIDTH,
    E_AGENT, E_NEXT, E_PAYLOAD, E_TYPE, E_WIDTH, EMPTY, F_NOW, F_OUT_TIME, F_WIDTH, H_KEY, H_SLOT, I_WIDTH,
    J_GAUSSIAN, J_NONE, J_UNIFORM, MAX_EVENTS, N_TYPES, NEEDS_PYTHON, PAST_END, PRIO_OFFSET, S_FREE, S_HANDLED,
    S_OUT, S_SEQ, S_SIZE, S_STATUS, S_TICK_TYPE, SEQ_BITS, SEQ_LIMIT, _SEQ_MASK, grow, new_arrays,
)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO53 = 1.0 / 9007199254740992.0


@njit(cache=True)
def _uniform(AF, a):
    """Uniform on [0, 1) from agent ``a``'s splitmix64 stream."""
    bits = AF.view(np.uint64)
    z = bits[a, A_RNG] + _GOLDEN
    bits[a, A_RNG] = z
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * _TWO53


@njit(cache=True)
def jittered(AF, a, base, floor):
    """One draw of ``base`` under agent ``a``'s jitter, never below ``floor``."""
    kind = int(AF[a, A_JITTER])
    ratio = AF[a, A_RATIO]
    value = base
    if kind == J_UNIFORM and ratio > 0.0 and base != 0.0:
        value = base + ratio * base * (2.0 * _uniform(AF, a) - 1.0)
    elif kind == J_GAUSSIAN and ratio > 0.0 and base != 0.0:
        u1 = 1.0 - _uniform(AF, a)  # (0, 1]
        u2 = _uniform(AF, a)
        value = base + ratio * base * np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return value if value > floor else floor


@njit(cache=True)
def _sift_down(T, H, pos, size):
    """Re-seat the entry at ``pos``: walk the smaller-child path to a leaf, then climb back."""
    t0 = T[pos]
    k0 = H[pos, H_KEY]
    s0 = H[pos, H_SLOT]
    child = 2 * pos + 1
    while child < size - 1:  # both children exist
        tr = T[child + 1]
        tc = T[child]
        child += np.int64((tr < tc) | ((tr == tc) & (H[child + 1, H_KEY] < H[child, H_KEY])))
        T[pos] = T[child]
        H[pos, H_KEY] = H[child, H_KEY]
        H[pos, H_SLOT] = H[child, H_SLOT]
        pos = child
        child = 2 * pos + 1
    if child < size:  # a lone last child
        T[pos] = T[child]
        H[pos, H_KEY] = H[child, H_KEY]
        H[pos, H_SLOT] = H[child, H_SLOT]
        pos = child
    _sift_up_from(T, H, pos, t0, k0, s0)


@njit(cache=True)
def _sift_up_from(T, H, pos, t0, k0, s0):
    """Place (t0, k0, s0) at ``pos`` or above it."""
    while pos > 0:
        parent = (pos - 1) >> 1
        tp = T[parent]
        if tp < t0 or (tp == t0 and H[parent, H_KEY] < k0):
            break
        T[pos] = tp
        H[pos, H_KEY] = H[parent, H_KEY]
        H[pos, H_SLOT] = H[parent, H_SLOT]
        pos = parent
    T[pos] = t0
    H[pos, H_KEY] = k0
    H[pos, H_SLOT] = s0


@njit(cache=True)
def push(T, H, E, I, t, prio, etype, agent, payload):
    """Insert an event (the caller guarantees a free record); returns its sequence."""
    slot = I[S_FREE]
    I[S_FREE] = E[slot, E_NEXT]
    E[slot, E_TYPE] = etype
    E[slot, E_AGENT] = agent
    E[slot, E_PAYLOAD] = payload
    seq = I[S_SEQ]
    I[S_SEQ] = seq + 1
    n = I[S_SIZE]
    I[S_SIZE] = n + 1
    _sift_up_from(T, H, n, t, ((prio + PRIO_OFFSET) << SEQ_BITS) | seq, slot)
    return seq


@njit(cache=True)
def _out(T, H, E, I, F):
    """Copy the root event to the out fields."""
    F[F_OUT_TIME] = T[0]
    key = H[0, H_KEY]
    slot = H[0, H_SLOT]
    I[S_OUT] = (key >> SEQ_BITS) - PRIO_OFFSET
    I[S_OUT + 1] = key & _SEQ_MASK
    I[S_OUT + 2] = E[slot, E_TYPE]
    I[S_OUT + 3] = E[slot, E_AGENT]
    I[S_OUT + 4] = E[slot, E_PAYLOAD]


@njit(cache=True)
def _remove_root(T, H, E, I):
    slot = H[0, H_SLOT]
    E[slot, E_NEXT] = I[S_FREE]
    I[S_FREE] = slot
    n = I[S_SIZE] - 1
    I[S_SIZE] = n
    if n > 0:
        T[0] = T[n]
        H[0, H_KEY] = H[n, H_KEY]
        H[0, H_SLOT] = H[n, H_SLOT]
        _sift_down(T, H, 0, n)


@njit(cache=True)
def pop(T, H, E, I, F):
    """Remove the next event into the out fields without handling it; False when empty."""
    if I[S_SIZE] == 0:
        return False
    _out(T, H, E, I, F)
    _remove_root(T, H, E, I)
    F[F_NOW] = F[F_OUT_TIME]
    return True


@njit(cache=True)
def run(T, H, E, AF, I, F, t_end, max_events):
    """Process events in order; returns ``4 * processed + status`` (status also in ``I[S_STATUS]``).

    A tick of a registered agent becomes the agent's next tick (after a jittered interval) in place. An
    event whose type has a Python handler is copied to the out fields, counted, and ends the
    run with status NEEDS_PYTHON.
    """
    tick_type = I[S_TICK_TYPE]
    n = 0
    status = MAX_EVENTS
    now = F[F_NOW]
    while n < max_events:
        size = I[S_SIZE]
        if size == 0:
            status = EMPTY
            break
        t = T[0]
        if t > t_end:
            status = PAST_END
            break
        now = t
        n += 1
        slot = H[0, H_SLOT]
        etype = E[slot, E_TYPE]
        handled = I[S_HANDLED + etype]
        if handled:
            _out(T, H, E, I, F)
        a = E[slot, E_AGENT]
        if etype == tick_type and a >= 0 and AF[a, A_ACTIVE] != 0.0:
            if AF[a, A_JITTER] == J_NONE:
                T[0] = t + AF[a, A_TICK]
            else:
                T[0] = t + jittered(AF, a, AF[a, A_TICK], AF[a, A_TICK_FLOOR])
            seq = I[S_SEQ]
            I[S_SEQ] = seq + 1
            H[0, H_KEY] = (H[0, H_KEY] & ~_SEQ_MASK) | seq
            E[slot, E_PAYLOAD] = -1
            _sift_down(T, H, 0, size)
        else:
            _remove_root(T, H, E, I)
        if handled:
            status = NEEDS_PYTHON
            break
    F[F_NOW] = now
    I[S_STATUS] = status
    return 4 * n + status


@njit(cache=True)
def remove_agent(T, H, E, I, agent):
    """Drop every pending event of ``agent`` and restore heap order; returns how many went."""
    size = I[S_SIZE]
    kept = 0
    for i in range(size):
        slot = H[i, H_SLOT]
        if E[slot, E_AGENT] == agent:
            E[slot, E_NEXT] = I[S_FREE]
            I[S_FREE] = slot
        else:
            T[kept] = T[i]
            H[kept, H_KEY] = H[i, H_KEY]
            H[kept, H_SLOT] = slot
            kept += 1
    I[S_SIZE] = kept
    for i in range(kept // 2 - 1, -1, -1):
        _sift_down(T, H, i, kept)
    return size - kept


def warm_up() -> None:
    """Compile (or load from cache) every kernel once, on a tiny queue."""
    T, H, E = new_arrays(4)
    AF = np.zeros((1, A_WIDTH))
    AF[0, A_TICK] = 1.0
    AF[0, A_TICK_FLOOR] = 1e-3
    I = np.zeros(I_WIDTH, dtype=np.int64)
    F = np.zeros(F_WIDTH)
    push(T, H, E, I, 0.0, 0, 0, 0, -1)
    run(T, H, E, AF, I, F, 0.5, 10)
    pop(T, H, E, I, F)
    remove_agent(T, H, E, I, 0)
    jittered(AF, 0, 1.0, 0.0)


KERNELS = (run, push, pop, remove_agent, jittered)
