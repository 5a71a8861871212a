"""Who holds a claim, and when a claim belongs to nobody any more.

Inbound messages (`processing`) and deliveries (`sending`, `inflight`) are claimed by one process
at a time. Each claim records its owner (`host:pid:start`) and its time. A claim belongs to nobody
when its owner is a process of this host that is gone (killed, crashed: released at once, by the
next sweep of any process on this host), or when it is older than the lease (an owner on another
host that died, or a live owner whose store went away mid-claim and could not record what it did).
Several `mailbot serve` on one store sweep alike; the row states and locks make a release safe even
when the owner turns out to be alive (see `mailbot.inbound.queue` and `mailbot.outbound.delivery`).
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from mailbot.clock import utcnow

DEFAULT_LEASE_SECONDS = 300.0
SWEEP_SECONDS = 5.0  # how often `mailbot serve` looks for claims that belong to nobody


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None when unknown: with the pid,
    it names one process even after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'
    return stat.rpartition(")")[2].split()[19]


def owner_of(pid: int) -> str:
    """The claim owner name of a running process of this host."""
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or '-'}"[:100]


@lru_cache(maxsize=None)
def _this_owner(pid: int) -> str:
    return owner_of(pid)


def this_owner() -> str:
    """This process as a claim owner (computed per pid: a forked child is another owner)."""
    return _this_owner(os.getpid())


def is_gone(owner: str | None) -> bool:
    """True when `owner` is a process of this host that no longer runs. Unknown (another host, an old
    claim without owner): False, the lease decides."""
    if not owner:
        return False
    host, pid_text, start = _split(owner)
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, someone else's
    ticks = _start_ticks(pid)
    return start != "-" and ticks is not None and ticks != start  # the pid was reused


def _split(owner: str) -> tuple[str, str, str]:
    host_pid, _, start = owner.rpartition(":")
    host, _, pid = host_pid.rpartition(":")
    return host, pid, start


def gone_owners(owners) -> list[str]:
    return [owner for owner in set(owners) if is_gone(owner)]


def lease_cutoff(lease_seconds: float, now: datetime | None = None) -> datetime:
    """Claims taken before this are expired."""
    return (now or utcnow()) - timedelta(seconds=float(lease_seconds))
