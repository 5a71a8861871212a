"""Rendering campaign summaries (pure: data in, bytes out), and the worker processes that do it.

A summary costs a few milliseconds of CPU, most of it in the standard `email` package; a campaign
renders thousands, while the same process delivers them over SMTP. In one process the two fight
for the interpreter lock and both slow down, so a large campaign's batches are read, rendered and
written by worker processes (`BatchWorkers`), and the calling process is left to deliver.
"""
from __future__ import annotations

import multiprocessing
import os
import select
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from mailbot.config import Config
from mailbot.outbound.form import FormContext
from mailbot.outbound.outbox import Recipient
from mailbot.outbound.render import Sender, header_as_set, message_bytes
from mailbot.rules import ReferenceLists, Rules
from mailbot.outbound.summary import build_summary

# Below this many summaries, worker processes cost more to start (~0.5 s) than they save.
POOL_MIN_SUMMARIES = 400
# Rendering is work for later: delivering what is rendered (and `serve` receiving replies on the
# same machine) comes first. At equal priority the workers took the CPU from delivery, which then
# trailed alone for the last third of a campaign with a core half idle: niced, the CPU is used
# throughout and a scale-1 campaign ends 10–15 % sooner (bench/campaign.py).
RENDER_NICENESS = 10


@dataclass(frozen=True)
class CampaignInfo:
    """What a summary shows of its campaign (a plain copy of the row, for worker processes)."""

    id: int
    name: str
    year: int
    apd_editable_year: int
    deadline: date

    @classmethod
    def of(cls, campaign) -> "CampaignInfo":
        return cls(campaign.id, campaign.name, campaign.year, campaign.apd_editable_year, campaign.deadline)


@dataclass(frozen=True)
class RenderSetup:
    """Everything a summary needs that is the same for the whole campaign."""

    secret: str
    sender: Sender
    campaign: CampaignInfo
    rules: Rules
    references: ReferenceLists
    templates_dir: str | None = None


@dataclass(frozen=True)
class SummaryJob:
    outbound_id: int
    target_id: int
    collectivite_id: int
    record: dict
    recipients: list[Recipient]


@dataclass(frozen=True)
class RenderedSummary:
    outbound_id: int
    raw: bytes
    message_id: str
    subject: str
    token: str


def render_summaries(setup: RenderSetup, jobs: list[SummaryJob]) -> list[RenderedSummary]:
    """The finished bytes of each job's summary, in order."""
    config = Config(values={"secret": setup.secret, "from_address": setup.sender.address,
                            "templates_dir": setup.templates_dir})
    form_context = FormContext(setup.rules, setup.references)
    rendered = []
    for job in jobs:
        message, token = build_summary(config, campaign=setup.campaign, form_context=form_context,
                                       record=job.record, recipients=job.recipients, outbound_id=job.outbound_id,
                                       sender=setup.sender)
        rendered.append(RenderedSummary(job.outbound_id, message_bytes(message), header_as_set(message, "Message-ID"),
                                        str(message["Subject"] or ""), token))
    return rendered


# --- worker processes ---------------------------------------------------------------------------

_worker_context: Any = None
OWNER_POLL_SECONDS = 0.5  # where pidfd_open is missing


def _init_worker(context: Any, owner_pid: int) -> None:
    global _worker_context
    _worker_context = context
    if hasattr(os, "nice"):
        os.nice(RENDER_NICENESS)
    _exit_with(owner_pid)


def _exit_with(owner_pid: int) -> None:
    """End this worker, and the fork server it came from, as soon as the process that started the
    pool is gone. Killed with -9, that process runs no cleanup: its workers would wait forever on a
    queue whose other end they hold themselves, and keep their fork server alive."""
    def watch() -> None:
        _wait_for_exit(owner_pid)
        server = os.getppid()
        if server != owner_pid and server != 1:
            os.kill(server, signal.SIGTERM)  # the fork server: nobody will ever ask it for a worker again
        os._exit(1)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def _wait_for_exit(pid: int) -> None:
    try:
        descriptor = os.pidfd_open(pid)  # Linux ≥ 5.3: readable when the process exits
    except (AttributeError, OSError):
        while _running(pid):
            time.sleep(OWNER_POLL_SECONDS)
        return
    select.select([descriptor], [], [])


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _run_in_worker(task: Callable, args: tuple) -> Any:
    return task(_worker_context, *args)


class BatchWorkers:
    """`submit(task, *args)` runs `task(context, *args)` in one of `processes` worker processes, or
    right here when `processes` is 1. `task` must be a module-level function (it is pickled by name);
    `context` is sent to each worker once."""

    def __init__(self, context: Any, processes: int):
        self.context = context
        self.pool: ProcessPoolExecutor | None = None
        if processes > 1:
            # forkserver, not fork: the caller already runs threads (delivery, a progress bar), and a
            # forked child could inherit a lock one of them held. The server imports the renderer once;
            # its workers share those pages instead of each importing its own copy.
            server = multiprocessing.get_context("forkserver")
            server.set_forkserver_preload(["mailbot.outbound.campaign"])
            self.pool = ProcessPoolExecutor(max_workers=processes, mp_context=server,
                                            initializer=_init_worker, initargs=(context, os.getpid()))

    def submit(self, task: Callable, *args) -> Future:
        if self.pool is not None:
            return self.pool.submit(_run_in_worker, task, args)
        done: Future = Future()
        done.set_result(task(self.context, *args))
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "BatchWorkers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def worker_processes(setting: int, summaries: int) -> int:
    """How many processes render `summaries` summaries: the setting (0: one per CPU), or 1 when
    there are too few for worker processes to pay for themselves."""
    if summaries < POOL_MIN_SUMMARIES:
        return 1
    return setting if setting > 0 else (os.cpu_count() or 1)
