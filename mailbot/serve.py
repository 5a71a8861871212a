"""`mailbot serve`: the SMTP listener, the IMAP poller, the inbound workers and the delivery worker.

Claims that belong to nobody — a crashed or killed process's, or those a store outage kept a worker
from finishing — are given back at startup and then every `SWEEP_SECONDS` (see `mailbot.leases`),
so several `mailbot serve` on one PostgreSQL share the work and take over a dead one's (docs/deploy.md).
SIGTERM or SIGINT (or `stop_event`) stops in order: no new SMTP connection, wait for the messages
being stored, stop the poller, let each worker finish its message and release the rest of its claim,
let the delivery worker finish its envelope.
"""
from __future__ import annotations

import errno
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from mailbot.config import SETTINGS_BY_NAME, Config
from mailbot.inbound import queue
from mailbot.inbound.imap_poll import ImapPoller
from mailbot.inbound.receive import GroupCommit, InboundController, start_listener
from mailbot.leases import SWEEP_SECONDS
from mailbot.web.server import start_in_thread as start_web
from store.db import make_engine, upgrade
from mailbot.outbound import delivery

log = logging.getLogger("mailbot.serve")

DEFAULT_WORKERS = 2
STORE_THREADS = 8  # concurrent SMTP sessions whose message is being written
DRAIN_SECONDS = 30.0  # how long a clean stop waits for messages being stored


class ServeError(RuntimeError):
    """`serve` cannot start; the message (French, one line) is for the operator."""


@dataclass
class Services:
    """What `run_serve` started, for tests that drive it in-process."""

    controller: InboundController | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)


def run_serve(config: Config, *, stop_event: threading.Event | None = None, workers: int = DEFAULT_WORKERS,
              services: Services | None = None, install_signals: bool | None = None, dev: bool = False) -> int:
    """Run until stopped; returns the exit status (0 after a clean stop). ServeError when it cannot
    start: the development secret without `dev`, the listening port taken."""
    if config.secret == SETTINGS_BY_NAME["secret"].default and not dev:
        # its tokens can be forged by anyone who read the source: a form would accept anybody's changes
        raise ServeError("le secret de développement est en place : définissez MAILBOT_SECRET (ou `secret` dans "
                         "mailbot.toml), ou ajoutez --dev pour un essai local")
    stop = stop_event or threading.Event()
    services = services or Services()
    if install_signals is None:
        install_signals = threading.current_thread() is threading.main_thread()
    if install_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    engine = make_engine(config.db, pool_size=STORE_THREADS + workers + 4, max_overflow=8)
    upgrade(engine)
    wake = threading.Event()  # a message was stored: the inbound workers look now, not at their next poll
    outbox = threading.Event()  # a message was queued for sending: the delivery worker looks now
    _sweep(engine, config, wake)
    executor = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="smtp-store")
    try:
        host, port = config.listen_address
        sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer: writers of this process take turns on a lock (see queue.run_worker).
        write_lock = threading.Lock() if sqlite else None
        store = GroupCommit(lambda arrivals: queue.store_arrivals(engine, arrivals), write_lock=write_lock)
        services.controller = _listen(store, host, port, config, executor, wake)
        handler = services.controller.handler
        # Senders wait for their 250, the queue can wait: on SQLite the workers give way to acceptance.
        pressure = (lambda: handler.in_flight > 0) if sqlite else None
        _start(services, "inbound", workers, lambda: queue.run_worker(
            engine, config, stop, wake=wake, pressure=pressure, write_lock=write_lock, on_processed=outbox.set))
        target = config.imap_target
        if target is not None:
            poller = ImapPoller(engine, target, max_size=int(config.max_message_size), on_stored=wake.set)
            _start(services, "imap", 1, lambda: poller.run(stop))
        _start(services, "delivery", 1, lambda: delivery.run_worker(engine, config, stop, wake=outbox))
        _start(services, "leases", 1, lambda: _sweep_until(engine, config, wake, stop))
        if config.web_listen:
            _, web_thread = start_web(config, stop=stop)
            services.threads.append(web_thread)
        services.ready.set()
        log.info("serving: SMTP on %s:%s, %d inbound worker(s)%s%s", host, port, workers,
                 f", IMAP {target.host}:{target.port}/{target.folder}" if target else "",
                 f", web console on {config.web_listen}" if config.web_listen else "")
        stop.wait()
        log.info("stopping")
    finally:
        stop.set()
        wake.set()  # idle workers wait on these, not on `stop`: they see it now
        outbox.set()
        _stop_listener(services.controller)
        executor.shutdown(wait=True)  # stores already started are committed (and answered) first
        for thread in services.threads:
            thread.join()
        engine.dispose()
    log.info("stopped cleanly")
    return 0


def _listen(store, host: str, port: int, config: Config, executor, wake: threading.Event) -> InboundController:
    try:
        return start_listener(store, host=host, port=port, max_size=int(config.max_message_size),
                              executor=executor, on_stored=wake.set)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"le port {host}:{port} est déjà utilisé (un autre `mailbot serve` ?) : arrêtez-le ou "
                             "choisissez un autre port avec MAILBOT_LISTEN") from None
        if exc.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
            raise ServeError(f"impossible d'écouter sur {host}:{port} ({exc.strerror}) : choisissez une autre "
                             "adresse avec MAILBOT_LISTEN") from None
        raise


def _start(services: Services, name: str, count: int, target) -> None:
    for index in range(count):
        thread = threading.Thread(target=target, name=f"{name}-{index}", daemon=True)
        thread.start()
        services.threads.append(thread)


def _sweep(engine, config: Config, wake: threading.Event) -> None:
    """Give back the inbound messages and deliveries whose claim belongs to nobody."""
    if queue.release_orphaned(engine, config.lease_seconds):
        wake.set()
    delivery.release_orphaned(engine, config.lease_seconds)


def _sweep_until(engine, config: Config, wake: threading.Event, stop: threading.Event) -> None:
    period = min(SWEEP_SECONDS, max(0.5, float(config.lease_seconds) / 4))
    while not stop.wait(period):
        try:
            _sweep(engine, config, wake)
        except SQLAlchemyError as exc:  # the store is away: the next sweep will do
            log.warning("cannot release abandoned claims now: %s", exc.__class__.__name__)


def _stop_listener(controller: InboundController | None) -> None:
    if controller is None:
        return
    controller.stop_accepting()
    if not controller.handler.idle.wait(DRAIN_SECONDS):
        log.warning("%d message(s) still being stored after %ss; stopping anyway",
                    controller.handler.in_flight, DRAIN_SECONDS)
    controller.stop()
