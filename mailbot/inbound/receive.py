"""The SMTP edge (aiosmtpd): validate, store the exact bytes and commit, then answer 250.

Nothing else happens here (Mailman's LMTP runner is the model): classification and routing are the
inbound workers' job. The answer is a status string:
- 250 only once the message is committed (`mailbot.inbound.queue.store_arrival`);
- 552 over the size limit (aiosmtpd also refuses a declared SIZE= or a DATA over `data_size_limit`);
- 451 when the store cannot take it, whatever the reason — never 250, never an exception's text.

Who sent the message is the SMTP envelope (MAIL FROM, RCPT TO, the peer address), recorded in
columns; headers such as X-MailFrom or X-Peer inside the message are just bytes.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import nullcontext
from concurrent.futures import Executor
from typing import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from mailbot.inbound.queue import Arrival, Stored

log = logging.getLogger("mailbot.receive")

# SMTP replies stay ASCII: they end up quoted in other MTAs' reports.
ACCEPTED = "250 2.0.0 Message recu, merci"
TOO_BIG = "552 5.3.4 Message trop volumineux"
STORE_UNAVAILABLE = "451 4.3.0 Erreur temporaire de stockage, reessayez plus tard"
COMMAND_TIMEOUT = 300  # seconds a client may stay silent between commands
IDENT = "atlas-mailbot"


class GroupCommit:
    """Messages arriving together share one transaction: one commit (one fsync) for all of them.

    Called from the executor threads. Whoever finds no write in progress becomes the writer for
    everything pending (up to `max_batch`); the others wait for their result. SQLite has a single
    writer, so this is what lets acceptance keep up with many concurrent senders. A failed batch is
    retried one message at a time, so one message the store refuses cannot cost the others a 451.
    """

    def __init__(self, write: Callable[[list[Arrival]], list[Stored]], *, max_batch: int = 200,
                 write_lock: threading.Lock | None = None):
        self._write = write
        self.max_batch = max_batch
        self.write_lock = write_lock or nullcontext()  # see mailbot.inbound.queue.run_worker
        self._cond = threading.Condition()
        self._pending: list[_Slot] = []
        self._writing = False

    def __call__(self, arrival: Arrival) -> Stored:
        slot = _Slot(arrival)
        with self._cond:
            self._pending.append(slot)
        while True:
            with self._cond:
                while not slot.done and self._writing:
                    self._cond.wait()
                if slot.done:
                    return slot.outcome()
                self._writing = True
                batch = self._pending[:self.max_batch]
                del self._pending[:len(batch)]
            self._flush(batch)

    def _flush(self, batch: list[_Slot]) -> None:
        try:
            with self.write_lock:
                outcomes = [(stored, None) for stored in self._write([slot.arrival for slot in batch])]
        except Exception as exc:
            outcomes = [self._alone(slot.arrival) for slot in batch] if len(batch) > 1 else [(None, exc)]
        with self._cond:
            for slot, (stored, error) in zip(batch, outcomes):
                slot.stored, slot.error, slot.done = stored, error, True
            self._writing = False
            self._cond.notify_all()

    def _alone(self, arrival: Arrival) -> tuple[Stored | None, Exception | None]:
        try:
            with self.write_lock:
                return self._write([arrival])[0], None
        except Exception as exc:
            return None, exc


class _Slot:
    __slots__ = ("arrival", "stored", "error", "done")

    def __init__(self, arrival: Arrival):
        self.arrival = arrival
        self.stored: Stored | None = None
        self.error: Exception | None = None
        self.done = False

    def outcome(self) -> Stored:
        if self.error is not None:
            raise self.error
        return self.stored


class InboundSMTP(SMTP):
    """aiosmtpd's server, except that its idle timer never closes a session whose message is being
    stored: the timer runs during handle_DATA, and a slow commit cut short would leave the client
    without an answer for a message we may have kept."""

    storing = False

    def _timeout_cb(self):
        if self.storing:
            self._reset_timeout()
            return
        super()._timeout_cb()


class StoreHandler:
    """The aiosmtpd handler: `store` (blocking) runs in `executor`; its commit comes before the 250."""

    def __init__(self, store: Callable[[Arrival], Stored], *, max_size: int, executor: Executor | None = None,
                 on_stored: Callable[[], None] | None = None):
        self.store = store
        self.max_size = max_size
        self.executor = executor
        self.on_stored = on_stored
        self._in_flight = 0
        self._lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = bytes(envelope.original_content or b"")
        if len(raw) > self.max_size:
            return TOO_BIG
        arrival = Arrival(
            raw=raw, source="smtp", envelope_from=envelope.mail_from or "",
            envelope_to=tuple(envelope.rcpt_tos), peer=_peer(session),
        )
        self._enter(server)
        try:
            stored = await asyncio.get_running_loop().run_in_executor(self.executor, self.store, arrival)
        except Exception:  # any failure to store: the sender keeps the message and retries later
            log.exception("could not store a message from %r (peer %s): answering 451", arrival.envelope_from, arrival.peer)
            return STORE_UNAVAILABLE
        finally:
            self._leave(server)
        if self.on_stored is not None:
            self.on_stored()
        log.debug("stored inbound %s from %r", stored.inbound_id, arrival.envelope_from)
        return ACCEPTED

    def _enter(self, server) -> None:
        server.storing = True
        with self._lock:
            self._in_flight += 1
            self.idle.clear()

    def _leave(self, server) -> None:
        server.storing = False
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self.idle.set()


def _peer(session) -> str | None:
    peer = getattr(session, "peer", None)
    if isinstance(peer, tuple) and peer:
        return str(peer[0])[:100]
    return str(peer)[:100] if peer else None


class InboundController(Controller):
    """A threaded aiosmtpd controller serving `InboundSMTP`."""

    def factory(self):
        return InboundSMTP(self.handler, **self.SMTP_kwargs)

    def stop_accepting(self) -> None:
        """Close the listening socket; sessions already open carry on (used before a clean stop)."""
        if self.server is not None:
            self.loop.call_soon_threadsafe(self.server.close)


def start_listener(
    store: Callable[[Arrival], Stored],
    *,
    host: str,
    port: int,
    max_size: int,
    executor: Executor | None = None,
    on_stored: Callable[[], None] | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> InboundController:
    """Start the SMTP listener in its own thread and return its controller (`.handler`, `.stop()`)."""
    handler = StoreHandler(store, max_size=max_size, executor=executor, on_stored=on_stored)
    controller = InboundController(
        handler, hostname=host, port=port, ident=IDENT,
        data_size_limit=max_size, enable_SMTPUTF8=True, decode_data=False, timeout=timeout,
    )
    controller.start()
    log.info("listening for SMTP on %s:%s (max %d bytes)", host, port, max_size)
    return controller
