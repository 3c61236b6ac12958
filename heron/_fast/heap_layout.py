"""Layout of the event queue's arrays: column and slot numbers, and array allocation.

Plain numpy, no Numba: the scheduler reads these without loading the compiler; the kernels in
:mod:`heron._fast.event_heap` compile against the same numbers.
"""
from __future__ import annotations

import numpy as np

SEQ_BITS = 44
SEQ_LIMIT = 1 << SEQ_BITS
PRIO_OFFSET = 1 << 18  # priorities in [-PRIO_OFFSET, PRIO_OFFSET)
_SEQ_MASK = SEQ_LIMIT - 1
# H columns
H_KEY, H_SLOT = 0, 1
# E columns
E_TYPE, E_AGENT, E_PAYLOAD, E_NEXT = 0, 1, 2, 3
E_WIDTH = 4
# AF columns
A_TICK, A_OBS, A_ACT, A_MSG, A_RATIO, A_MIN_DELAY, A_TICK_FLOOR, A_JITTER, A_ACTIVE, A_RNG = range(10)
A_WIDTH = 10
# I entries
S_SIZE, S_SEQ, S_FREE, S_STATUS = 0, 1, 2, 3
S_OUT = 4  # priority, sequence, type, agent, payload of the event handed to Python
S_HANDLED = 9  # one entry per event type
N_TYPES = 6
S_TICK_TYPE = S_HANDLED + N_TYPES
I_WIDTH = S_TICK_TYPE + 1
# F entries
F_NOW, F_OUT_TIME = 0, 1
F_WIDTH = 2
# run statuses (the kernel returns 4 * processed + status)
EMPTY, PAST_END, MAX_EVENTS, NEEDS_PYTHON = 0, 1, 2, 3
# jitter kinds (same values as heron.scheduling.JitterType)
J_NONE, J_UNIFORM, J_GAUSSIAN = 0, 1, 2


def new_arrays(capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empty heap and record arrays of ``capacity`` entries, every record free."""
    T = np.zeros(capacity)
    H = np.zeros((capacity, 2), dtype=np.int64)
    E = np.zeros((capacity, E_WIDTH), dtype=np.int64)
    E[:, E_NEXT] = np.arange(1, capacity + 1)
    E[-1, E_NEXT] = -1
    return T, H, E


def grow(T: np.ndarray, H: np.ndarray, E: np.ndarray, I: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Double the capacity, keeping the queue; the new records join the free list."""
    old = T.size
    T2, H2, E2 = new_arrays(2 * old)
    T2[:old], H2[:old], E2[:old] = T, H, E
    E2[-1, E_NEXT] = I[S_FREE]  # new slots first, then whatever was free before
    I[S_FREE] = old
    return T2, H2, E2
