"""Leases on an env's id and on a site's identity in it, for brokers that span processes.

Every transport names a lease's holder the same way, ``"<token> pid <n> on <host>"``, so a
refusal can say who holds it and a process restarted after a crash on the same host can take
its identity back at once. Redis keeps a lease as a key with a time to live. Kafka has no such
key, so :class:`LeaseLog` keeps leases as claims, renewals and releases appended to one
partition: the partition's order is the same for every reader, so every process that reads
up to a record reaches the same verdict on who held the lease at that record.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass

__all__ = ["LEASE_MS", "new_holder", "holder_died", "holder_name", "due_for_renewal", "LeaseLog"]

LEASE_MS = 30_000  # a lease ends this long after its holder's last renewal; holders renew every third of it


def new_holder() -> bytes:
    """A lease holder's name: a token of its own, its process id and host."""
    return f"{uuid.uuid4().hex} pid {os.getpid()} on {socket.gethostname()}".encode()


def holder_name(held: bytes | None) -> str:
    """What a refusal says of a holder: ``pid <n> on <host>``."""
    return (held or b"?").decode(errors="replace").partition(" ")[2] or "another process"


def holder_died(held: bytes) -> bool:
    """Whether the process a lease names ran on this host and is gone: a site restarted after a
    crash takes its identity back at once, without waiting for the dead process's lease to end
    (a holder on another host cannot be checked: its lease ends ``LEASE_MS`` after its last renewal)."""
    parts = held.decode(errors="replace").split(" ")
    if len(parts) != 5 or parts[1] != "pid" or parts[3] != "on" or parts[4] != socket.gethostname() or not parts[2].isdigit():
        return False
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False


def due_for_renewal(leases: dict[tuple[str, str | None], float]) -> list[tuple[str, str | None]]:
    """The (env id, site) of ``leases`` (each with its last renewal, monotonic s) renewed longer
    than a third of ``LEASE_MS`` ago: a holder renews them while it publishes."""
    now = time.monotonic()
    return [lease for lease, renewed in leases.items() if now - renewed > LEASE_MS / 3000]


@dataclass
class _Lease:
    holder: bytes
    renewed_ms: int


class LeaseLog:
    """Who holds each lease, from the lease records of one log read in order.

    A record is ``(kind, holder, at_ms, replaces)``: a ``claim`` wins when the lease is free,
    is its holder's already, ran out (``LEASE_MS`` since its last renewal by the claimant's
    clock) or names the holder it ``replaces`` as dead (only a process on the dead holder's
    host can tell, so it says so in the record for every reader to agree); a ``renew`` or a
    ``release`` counts only from the holder."""

    def __init__(self) -> None:
        self.leases: dict[bytes, _Lease] = {}

    def holder(self, key: bytes) -> bytes | None:
        lease = self.leases.get(key)
        return lease.holder if lease is not None else None

    def apply(self, key: bytes, kind: str, holder: bytes, at_ms: int, replaces: bytes | None = None) -> None:
        lease = self.leases.get(key)
        if kind == "claim":
            if lease is None or lease.holder in (holder, replaces) or at_ms - lease.renewed_ms > LEASE_MS:
                self.leases[key] = _Lease(holder, at_ms)
        elif lease is not None and lease.holder == holder:
            if kind == "renew":
                lease.renewed_ms = at_ms
            elif kind == "release":
                del self.leases[key]
