"""The CPU budget of one message: past it, the message is too complex to read automatically.

Input limits come first (field lengths in the rules, header sizes per MIME part, lines and
candidates in identification): they keep every stage's cost proportional to something small. The
budget is the backstop for whatever those limits miss: the inbound worker sets a deadline in CPU
time of its thread (`time.thread_time`: waiting for the database or the write lock does not count)
and the loops that grow with the input call `checkpoint()`, which raises `TooComplex` once the
deadline has passed. The worker then records the message for reviewers as too complex.

`TooComplex` is a BaseException, like KeyboardInterrupt: the stages' own `except Exception`
handlers (a detector choking on odd input, a parser reporting instead of raising) must not turn
running out of time into an ordinary result.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

SECONDS = 1.0  # of CPU per message
CHECK_EVERY = 64  # loop iterations between clock reads in `ticks`

_local = threading.local()


class TooComplex(BaseException):
    """The message's processing went past its CPU budget."""


def deadline_from_now(seconds: float | None = None) -> float:
    return time.thread_time() + (SECONDS if seconds is None else seconds)


@contextmanager
def until(deadline: float | None) -> Iterator[None]:
    """Run the block with `deadline` (a `time.thread_time()` value; None: no limit)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


@contextmanager
def exempt() -> Iterator[None]:
    """Run the block without charging its CPU time to the current message: for work shared by every
    message (a cache of the reference data built once), which the first message to need it would
    otherwise pay alone and, on a busy machine, be declared too complex for."""
    deadline = getattr(_local, "deadline", None)
    started = time.thread_time()
    _local.deadline = None
    try:
        yield
    finally:
        _local.deadline = None if deadline is None else deadline + (time.thread_time() - started)


def checkpoint() -> None:
    """Raise `TooComplex` if this thread is past its deadline (a no-op outside `until`)."""
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.thread_time() > deadline:
        raise TooComplex("plus d'une seconde de calcul" if SECONDS == 1 else f"plus de {SECONDS:g} s de calcul")


def ticks(items, every: int = CHECK_EVERY):
    """`items`, with a checkpoint every `every` items (for loops over many cheap steps)."""
    for index, item in enumerate(items):
        if index % every == 0:
            checkpoint()
        yield item
