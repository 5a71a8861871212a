"""Reading a mailbox over IMAP (imapclient): new messages by UID, stored and committed, then marked.

A message is moved to the processed folder (or, where the server cannot MOVE, flagged with a
keyword) only after its row is committed, so a crash at any point leaves it in the folder to be
read again; the dedupe key makes that second reading a no-op. `ImapState` remembers the highest UID
stored per folder and UIDVALIDITY: a message below it only needs marking, and a new UIDVALIDITY
(folder recreated, server restored) starts from zero without losing or doubling anything.

The server is watched with IDLE where it offers it, by polling otherwise; a lost connection or a
restarted server is retried with backoff until the poller is stopped.
"""
from __future__ import annotations

import logging
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from mailbot.clock import utcnow
from mailbot.config import ImapTarget
from mailbot.inbound.queue import Arrival, insert_arrival
from store.inbound_models import ImapState

log = logging.getLogger("mailbot.imap")

PROCESSED_FOLDER = "Atlas-traites"
PROCESSED_KEYWORD = "$AtlasProcessed"
TOO_BIG_KEYWORD = "$AtlasTooBig"
# Re-select this often even when IDLE reports nothing (RFC 2177 asks for less than 29 minutes): a
# folder deleted and recreated under us sends no news to the old selection.
IDLE_SECONDS = 5 * 60
IDLE_CHECK_SECONDS = 1.0  # how quickly a stop request is noticed while idling
POLL_SECONDS = 60.0
BACKOFF_SECONDS = (1, 2, 5, 10, 30, 60)
FETCH_CHUNK = 50
NETWORK_ERRORS = (IMAPClientError, OSError, ssl.SSLError, socket.timeout, ConnectionError, EOFError)



@dataclass
class PollReport:
    stored: int = 0
    duplicates: int = 0
    marked: int = 0
    too_big: int = 0


def envelope_of(raw: bytes, mailbox_user: str) -> tuple[str, tuple[str, ...]]:
    """Sender and recipients as the delivering MTA recorded them (the topmost Return-Path and
    Delivered-To / X-Original-To), the IMAP equivalent of the SMTP envelope."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:256 * 1024]
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head + b"\n")
    return_path = str(headers.get("Return-Path", "") or "").strip()
    sender = getaddresses([return_path])[0][1] if return_path not in ("", "<>") else ""
    for name in ("Delivered-To", "X-Original-To"):
        value = headers.get(name)
        if value:
            return sender, (getaddresses([str(value)])[0][1],)
    return sender, ((mailbox_user,) if "@" in mailbox_user else ())


class ImapPoller:
    def __init__(
        self,
        engine: Engine,
        target: ImapTarget,
        *,
        max_size: int,
        processed_folder: str | None = PROCESSED_FOLDER,
        use_idle: bool = True,
        idle_seconds: float = IDLE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        backoff: tuple[float, ...] = BACKOFF_SECONDS,
        timeout: float = 60.0,
        on_stored: Callable[[], None] | None = None,
    ):
        self.engine = engine
        self.target = target
        self.max_size = max_size
        self.processed_folder = processed_folder
        self.use_idle = use_idle
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self.backoff = backoff
        self.timeout = timeout
        self.on_stored = on_stored
        self.client: IMAPClient | None = None
        self.mailbox = f"{target.user}@{target.host}:{target.port}/{target.folder}"
        self._destination: str | None = None
        self._keywords = True

    # --- connection ---------------------------------------------------------------------------------

    def connect(self) -> None:
        context = ssl.create_default_context() if self.target.ssl else None
        client = IMAPClient(self.target.host, port=self.target.port, ssl=self.target.ssl,
                            ssl_context=context, timeout=self.timeout)
        try:
            client.login(self.target.user, self.target.password)
            self._destination = self._prepare_destination(client)
        except Exception:
            _quietly_close(client)
            raise
        self.client = client
        log.info("connected to %s (IDLE %s, MOVE %s)", self.mailbox,
                 "yes" if client.has_capability("IDLE") else "no", "yes" if self._destination else "no")

    def _prepare_destination(self, client: IMAPClient) -> str | None:
        """The processed folder (with the personal namespace prefix), created if needed; None when
        the server cannot MOVE, in which case messages are flagged instead."""
        if not self.processed_folder or not client.has_capability("MOVE"):
            return None
        prefix = ""
        if client.has_capability("NAMESPACE"):
            personal = client.namespace().personal
            prefix = personal[0][0] if personal else ""
            prefix = prefix.decode() if isinstance(prefix, bytes) else prefix
        folder = self.processed_folder if self.processed_folder.startswith(prefix) else prefix + self.processed_folder
        if not client.folder_exists(folder):
            client.create_folder(folder)
            log.info("created IMAP folder %r for processed messages", folder)
        return folder

    def disconnect(self) -> None:
        if self.client is not None:
            _quietly_close(self.client)
            self.client = None

    # --- one pass ----------------------------------------------------------------------------------------

    def poll_once(self) -> PollReport:
        """Store every message of the folder not yet processed, marking each after its commit."""
        report = PollReport()
        client = self.client
        info = client.select_folder(self.target.folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        self._keywords = b"\\*" in tuple(info.get(b"PERMANENTFLAGS", ()))
        last_uid = self._last_uid(uidvalidity)
        uids = sorted(client.search(self._criteria()))
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start:start + FETCH_CHUNK]
            sizes = client.fetch(chunk, ["RFC822.SIZE"])
            for uid in chunk:
                self._take(uid, uidvalidity, last_uid, sizes.get(uid, {}).get(b"RFC822.SIZE", 0), report)
        return report

    def _criteria(self) -> list:
        criteria = ["NOT", "DELETED"]
        if self._keywords:
            criteria += ["NOT", "KEYWORD", TOO_BIG_KEYWORD]
        if self._destination is None:
            criteria += ["NOT", "KEYWORD", PROCESSED_KEYWORD] if self._keywords else ["UNSEEN"]
        return criteria

    def _take(self, uid: int, uidvalidity: int, last_uid: int, size: int, report: PollReport) -> None:
        if uid <= last_uid:
            self._mark(uid)  # stored before a crash or a lost connection; only the marking is missing
            report.marked += 1
            return
        if size > self.max_size:
            log.warning("%s UID %s is %d bytes, over the %d-byte limit: left in the folder", self.mailbox, uid,
                        size, self.max_size)
            if self._keywords:
                self.client.add_flags([uid], [TOO_BIG_KEYWORD])
            report.too_big += 1
            return
        fetched = self.client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {})
        raw = fetched.get(b"BODY[]")
        if raw is None:
            return  # expunged meanwhile by someone else
        stored = self._store(raw, uid, uidvalidity)
        self._mark(uid)
        report.marked += 1
        if stored:
            report.stored += 1
            if self.on_stored:
                self.on_stored()
        else:
            report.duplicates += 1

    def _store(self, raw: bytes, uid: int, uidvalidity: int) -> bool:
        sender, recipients = envelope_of(raw, self.target.user)
        arrival = Arrival(raw=raw, source="imap", envelope_from=sender, envelope_to=recipients,
                          imap_ref=f"{self.target.folder};UIDVALIDITY={uidvalidity};UID={uid}")
        with self.engine.begin() as conn:
            stored = insert_arrival(conn, arrival)
            self._advance(conn, uidvalidity, uid)
        return not stored.duplicate

    def _mark(self, uid: int) -> None:
        if self._destination is not None:
            self.client.move([uid], self._destination)
        elif self._keywords:
            self.client.add_flags([uid], [PROCESSED_KEYWORD])
        else:
            self.client.add_flags([uid], [b"\\Seen"])

    def _last_uid(self, uidvalidity: int) -> int:
        with self.engine.connect() as conn:
            rows = conn.execute(select(ImapState.uidvalidity, ImapState.last_uid)
                                .where(ImapState.mailbox == self.mailbox)).all()
        current = {validity: last for validity, last in rows}
        if rows and uidvalidity not in current:
            log.warning("%s: UIDVALIDITY changed to %s (was %s): reading the folder from the start",
                        self.mailbox, uidvalidity, ", ".join(str(v) for v in current))
        return int(current.get(uidvalidity, 0))

    def _advance(self, conn, uidvalidity: int, uid: int) -> None:
        row = conn.execute(select(ImapState.id, ImapState.last_uid).where(
            ImapState.mailbox == self.mailbox, ImapState.uidvalidity == uidvalidity)).first()
        if row is None:
            conn.execute(ImapState.__table__.insert().values(
                mailbox=self.mailbox, uidvalidity=uidvalidity, last_uid=uid, updated_at=utcnow()))
        elif uid > row.last_uid:
            conn.execute(ImapState.__table__.update().where(ImapState.id == row.id)
                         .values(last_uid=uid, updated_at=utcnow()))

    # --- waiting -------------------------------------------------------------------------------------------

    def wait_for_news(self, stop: threading.Event) -> None:
        """Return when the folder may have changed: IDLE news, the IDLE period's end, or the poll delay."""
        if not (self.use_idle and self.client.has_capability("IDLE")):
            stop.wait(self.poll_seconds)
            return
        client = self.client
        client.idle()
        try:
            deadline = time.monotonic() + self.idle_seconds
            with selectors.DefaultSelector() as selector:
                selector.register(client.socket(), selectors.EVENT_READ)
                while not stop.is_set() and time.monotonic() < deadline:
                    if not selector.select(IDLE_CHECK_SECONDS):
                        continue
                    responses = client.idle_check(timeout=0)
                    if not responses:
                        raise ConnectionError("IMAP connection closed during IDLE")
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        break
                    if any(r and r[0] == b"BYE" for r in responses):
                        raise ConnectionError("IMAP server said BYE")
        finally:
            client.idle_done()

    # --- the long-running form --------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Poll until `stop`; reconnect with backoff after any network, server or store failure."""
        failures = 0
        while not stop.is_set():
            try:
                self.connect()
                while not stop.is_set():
                    report = self.poll_once()
                    failures = 0
                    if report.stored or report.marked:
                        log.info("%s: %d stored, %d duplicate(s), %d marked", self.mailbox, report.stored,
                                 report.duplicates, report.marked)
                    self.wait_for_news(stop)
            except NETWORK_ERRORS as exc:
                log.warning("%s: %s: %s", self.mailbox, exc.__class__.__name__, exc)
            except SQLAlchemyError as exc:
                # Nothing was marked: the messages stay in the folder until the store is back.
                log.warning("%s: store unavailable (%s): messages left in the folder", self.mailbox,
                            exc.__class__.__name__)
            finally:
                self.disconnect()
            if stop.is_set():
                break
            delay = self.backoff[min(failures, len(self.backoff) - 1)]
            failures += 1
            stop.wait(delay)


def _quietly_close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection is already gone; closing is best effort
        try:
            client.shutdown()
        except Exception:
            pass
