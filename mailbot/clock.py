"""The one clock: every time the bot stores is aware UTC; and the one way to wait for something."""
from __future__ import annotations

import time
from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def idle(stop, wake, seconds: float) -> None:
    """Sleep `seconds` or until `wake` (an Event, or None: only `stop`) is set. Whoever stops a
    worker sets its `wake` too. A wake-up is cleared after it: what was queued meanwhile is found by
    the worker's next pass, which looks anyway."""
    if wake is None:
        stop.wait(seconds)
    elif wake.wait(seconds):
        wake.clear()


def wait_for(predicate, seconds: float = 30, interval: float = 0.1):
    """Poll `predicate` until it returns something true (returned) or `seconds` pass (TimeoutError).

    For the shells that watch another thread or process: the demo, the tests, the benchmarks."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"nothing after {seconds:g} s")


def smtp_listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether an SMTP server answers on host:port (a server started in another thread or process)."""
    import smtplib

    try:
        smtplib.SMTP(host, port, timeout=2).quit()
        return True
    except OSError:
        return False
