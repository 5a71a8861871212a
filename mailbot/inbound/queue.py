"""The inbound queue: what arrived is stored first, then claimed, classified and routed, once.

Storing (`store_arrival`) is what the SMTP edge and the IMAP poller do before they acknowledge:
one INSERT … ON CONFLICT DO NOTHING on the dedupe key, committed. The same message delivered twice,
or by SMTP and by IMAP, is one row.

Processing follows the shape of Mailman's runners: a worker claims a few queued rows (state
`processing`, committed), then handles each: read and analysed outside any write transaction (see
`process_claimed`), then routed in its own transaction that ends with state `done` (or `error`,
kept for `mailbot inbox reprocess`). A crash, or a store outage that kept a worker from recording
what became of a message, leaves `processing` rows behind: `release_orphaned` (swept by every
`mailbot serve` while it runs) puts back in the queue those whose owner is gone or whose lease
expired (see `mailbot.leases`). The row lock and state check at the start of each transaction mean
a message released while still being worked on is still handled once, by one of several servers.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from contextlib import nullcontext
import time
from dataclasses import dataclass, replace
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Callable

from sqlalchemy import Connection, Engine, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailbot import budget
from mailbot.budget import TooComplex
from mailbot.clock import idle, utcnow
from mailbot.config import Config
from mailbot.leases import DEFAULT_LEASE_SECONDS, gone_owners, lease_cutoff, this_owner
from mailbot.inbound.attachments import assess_files
from mailbot.inbound.authenticate import DnsLookup, authenticate
from mailbot.inbound.classify import Classification, Envelope, classify, too_complex
from mailbot.inbound.read import header_text
from mailbot.inbound.route import route
from mailbot.replies.documents import HUMAN_KINDS
from mailbot.replies.parse import parse_text
from mailbot.replies.tokenless import scan_message
from mailbot.replies.understand import prepare_diffs
from store.db import read_sessions, session_factory
from store.inbound_models import InboundMessage

log = logging.getLogger("mailbot.inbound")

CLAIM_BATCH = 10
GIVE_WAY_SECONDS = 1.0  # the longest a worker defers to acceptance before taking its turn
MAX_ATTEMPTS = 3  # transient database errors are retried this many times before `error`
FINGERPRINT_HEADER_BYTES = 256 * 1024
# Headers that survive transport unchanged; trace headers (Received, Return-Path, Delivered-To,
# Authentication-Results…) differ between the SMTP copy and the one an MTA put in a mailbox.
FINGERPRINT_HEADERS = ("from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references",
                       "content-type", "content-transfer-encoding")



class InboxError(ValueError):
    """A request about the inbox that cannot be honoured; the message is for the user."""


@dataclass(frozen=True)
class Arrival:
    raw: bytes
    source: str  # smtp | imap
    envelope_from: str  # "" for the null sender
    envelope_to: tuple[str, ...]
    peer: str | None = None
    imap_ref: str | None = None


@dataclass(frozen=True)
class Fingerprint:
    message_id: str | None
    content_sha256: str
    dedupe_key: str
    subject: str | None
    from_header: str | None


@dataclass(frozen=True)
class Stored:
    inbound_id: int | None  # None: an identical message was already in the store
    dedupe_key: str

    @property
    def duplicate(self) -> bool:
        return self.inbound_id is None


# --- storing ---------------------------------------------------------------------------------------

def _split(raw: bytes) -> tuple[bytes, bytes]:
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = raw.partition(separator)
        if found and len(head) <= FINGERPRINT_HEADER_BYTES:
            return head + b"\n", body
    return b"", raw


def fingerprint(raw: bytes) -> Fingerprint:
    """Message-ID and a content hash that ignores line endings and trace headers (pure).

    Never raises: a message that fits the size limit is stored whatever its content, and what its
    headers hold is the classifier's business (a failure there is recorded as `malformed`)."""
    try:
        return _fingerprint(raw)
    except Exception:  # headers the parser cannot read: identified by their bytes alone
        log.warning("unreadable headers: message fingerprinted by its bytes", exc_info=True)
        content = hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()
        return Fingerprint(None, content, hashlib.sha256(f"\0{content}".encode()).hexdigest(), None, None)


def _fingerprint(raw: bytes) -> Fingerprint:
    head, body = _split(raw)
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head) if head else None
    digest = hashlib.sha256()
    for name in FINGERPRINT_HEADERS:
        for value in (headers.get_all(name, []) if headers else []):
            digest.update(name.encode() + b":" + " ".join(str(value).split()).encode("utf-8", "surrogateescape") + b"\n")
    digest.update(b"\n" + body.replace(b"\r\n", b"\n").rstrip())
    content = digest.hexdigest()
    message_id = " ".join(str(headers.get("Message-ID", "")).split())[:500] if headers else ""
    key = hashlib.sha256(f"{message_id}\0{content}".encode("utf-8", "surrogateescape")).hexdigest()

    def text(name: str) -> str | None:
        value = headers.get(name) if headers else None
        return header_text(value)[:998] if value is not None else None

    return Fingerprint(message_id or None, content, key, text("Subject"), text("From"))


_INSERT_STATEMENTS: dict = {}


def _insert_statement(dialect: str):
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, built once per dialect: building a
    statement costs more than running it."""
    if dialect not in _INSERT_STATEMENTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        _INSERT_STATEMENTS[dialect] = (
            insert(InboundMessage).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(InboundMessage.id)
        )
    return _INSERT_STATEMENTS[dialect]


def address_of(path: str) -> str:
    """`<Marie@Ville.fr>` → `Marie@Ville.fr`; the null path stays empty."""
    return parseaddr(path.strip())[1] if path and path.strip() not in ("<>", "") else ""


def insert_arrival(conn: Connection, arrival: Arrival) -> Stored:
    """Insert in the caller's transaction; the caller commits."""
    print_ = fingerprint(arrival.raw)
    row = {
        "received_at": utcnow(), "source": arrival.source, "envelope_from": arrival.envelope_from[:998],
        "envelope_to": list(arrival.envelope_to), "peer": arrival.peer, "imap_ref": arrival.imap_ref,
        "message_id": print_.message_id, "content_sha256": print_.content_sha256, "dedupe_key": print_.dedupe_key,
        "size": len(arrival.raw), "raw": arrival.raw, "subject": print_.subject, "from_header": print_.from_header,
        "state": "queued", "attempts": 0, "sender": address_of(arrival.envelope_from)[:998],
    }
    inbound_id = conn.execute(_insert_statement(conn.dialect.name), row).scalar()
    return Stored(inbound_id, print_.dedupe_key)


def store_arrival(engine: Engine, arrival: Arrival) -> Stored:
    """Store and commit one message; when this returns, the message is safe (a 250 may be sent)."""
    with engine.begin() as conn:
        stored = insert_arrival(conn, arrival)
    if stored.duplicate:
        log.info("%s message already stored (dedupe key %s…): not stored again", arrival.source, stored.dedupe_key[:12])
    return stored


def store_arrivals(engine: Engine, arrivals: list[Arrival]) -> list[Stored]:
    """Store several messages in one transaction (one commit, one fsync)."""
    with engine.begin() as conn:
        return [insert_arrival(conn, arrival) for arrival in arrivals]


# --- claiming ----------------------------------------------------------------------------------------

def claim(engine: Engine, limit: int = CLAIM_BATCH) -> list[int]:
    """Move up to `limit` queued messages to `processing` and return their ids (committed)."""
    now = utcnow()
    queued = select(InboundMessage.id).where(InboundMessage.state == "queued").order_by(InboundMessage.id).limit(limit)
    claimed = dict(state="processing", claimed_at=now, claimed_by=this_owner(), attempts=InboundMessage.attempts + 1)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            ids = list(conn.scalars(queued.with_for_update(skip_locked=True)))
            if ids:
                conn.execute(update(InboundMessage).where(InboundMessage.id.in_(ids)).values(**claimed))
            return ids
        # SQLite: one statement, under the write lock BEGIN IMMEDIATE took.
        statement = (
            update(InboundMessage)
            .where(InboundMessage.id.in_(queued.scalar_subquery()), InboundMessage.state == "queued")
            .values(**claimed)
            .returning(InboundMessage.id)
        )
        return sorted(conn.scalars(statement))


def release(engine: Engine, ids: list[int]) -> int:
    """Give claimed messages back to the queue (shutdown with work in hand)."""
    if not ids:
        return 0
    with engine.begin() as conn:
        result = conn.execute(
            update(InboundMessage).where(InboundMessage.id.in_(ids), InboundMessage.state == "processing")
            .values(state="queued", claimed_at=None, claimed_by=None)
        )
    return result.rowcount or 0


def release_orphaned(engine: Engine, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> int:
    """Claimed messages that belong to nobody (owner gone, or lease expired) go back to the queue.

    A message being processed right now is locked by its worker: PostgreSQL skips it (SKIP LOCKED);
    SQLite has one writer, so the release runs wholly before or after that worker's transaction.
    Either way the worker's state check (see `process_claimed`) keeps it handled once.
    """
    processing = InboundMessage.state == "processing"
    with engine.begin() as conn:
        owners = conn.scalars(select(InboundMessage.claimed_by).where(processing).distinct()).all()
        orphaned = InboundMessage.claimed_at < lease_cutoff(lease_seconds)
        gone = gone_owners(owner for owner in owners if owner)
        if gone:
            orphaned = or_(orphaned, InboundMessage.claimed_by.in_(gone))
        candidates = select(InboundMessage.id).where(processing, orphaned)
        if engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        result = conn.execute(
            update(InboundMessage).where(InboundMessage.id.in_(candidates.scalar_subquery()), processing)
            .values(state="queued", claimed_at=None, claimed_by=None)
        )
    count = result.rowcount or 0
    if count:
        log.warning("released %d inbound message(s) whose claim belonged to nobody", count)
    return count


# --- processing ----------------------------------------------------------------------------------------

# Kinds whose sender may be trusted or answered: the only ones worth an authentication verdict.
AUTHENTICATED_KINDS = ("reply", "command", "unknown")


@dataclass(frozen=True)
class Job:
    """What the CPU work on one message needs, read without taking the write lock."""

    raw: bytes
    envelope: Envelope
    subject: str = ""
    sender: str = ""


def analyse(raw: bytes, envelope: Envelope, config: Config, *, dns: DnsLookup | None = None) -> Classification:
    """Everything about one message that needs no transaction: its kind, its canonical text, the
    reply parsed from that text, and what the mail servers found of its sender (mailbot.authenticate).
    Runs before the write transaction, under the caller's CPU budget."""
    classification = classify(raw, envelope, our_address=config.from_address, secret=config.secret)
    details = dict(classification.details)
    readable = classification.kind == "reply" or details.get("weak")
    if classification.kind in AUTHENTICATED_KINDS or readable:
        details["authentication"] = authenticate(raw, trusted_ids=tuple(config.authserv_ids), dns=dns).as_json()
    parsed = parse_text(classification.text or "") if readable else None
    return replace(classification, details=details, parsed=parsed)


def edited_despite_robot_words(classification: Classification) -> Classification:
    """An out-of-office opening (the wording alone, no robot header) above a form the sender edited
    is a person who wrote that they are away, then answered: a reply. Robots quote our form unchanged."""
    if classification.kind != "autoreply" or not classification.details.get("weak"):
        return classification
    if not any(diff.changes for _, diff in (classification.diffs or {}).values()):
        return classification
    details = {key: value for key, value in classification.details.items() if key not in ("auto", "weak")}
    return replace(classification, kind="reply", details=details,
                   reason=f"réponse à un formulaire modifié, malgré un début de réponse automatique ({details['signal']})")


def prepare(sessions: sessionmaker[Session], config: Config, classification: Classification, job: Job) -> Classification:
    """What the routes will need that costs CPU, in a read-only session (no write lock): the reply's
    forms diffed against their snapshots; without a form, the collectivités the message names
    (mailbot.replies.tokenless); the files of a person's message, judged."""
    forms = classification.parsed is not None and bool(classification.parsed.forms)
    if classification.kind in HUMAN_KINDS:
        classification = replace(classification, files=assess_files(job.raw))
    if not forms and not may_go_tokenless(classification):
        return classification
    with read_sessions(sessions.kw["bind"])() as session:
        if forms:
            return replace(classification, diffs=prepare_diffs(session, config, classification.parsed))
        return replace(classification, scan=scan_message(session, job.raw, job.subject, job.sender))


def may_go_tokenless(classification: Classification) -> bool:
    """Whether the route may have to find the collectivité itself: mail without any token of its own
    (a reply known only by its thread may still lack one). A reply carrying a token never does."""
    details = classification.details
    if classification.kind == "reply":
        return not (details.get("address_tokens") or details.get("body_tokens"))
    return classification.kind == "unknown"


def handle(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """Route one claimed message, already analysed, inside the caller's transaction."""
    route(session, config, inbound, classification)
    if inbound.state == "processing":
        inbound.state = "done"
    inbound.processed_at = utcnow()
    log.info("inbound %s from %r: %s (%s)", inbound.id, inbound.sender, inbound.kind, inbound.reason)


def process_claimed(sessions: sessionmaker[Session], config: Config, inbound_id: int, *,
                    write_lock: threading.Lock | None = None, dns: DnsLookup | None = None) -> str | None:
    """Process one claimed message; returns its final state (None: not ours any more).

    Three steps, so that no message holds up the others: read it (a read transaction: no write lock);
    analyse it (CPU only, no transaction); route it in one write transaction (under `write_lock`).
    Analysis and routing share one CPU budget (mailbot.budget); a message that exhausts it is
    recorded as too complex, in a fresh transaction (the routing's was rolled back)."""
    try:
        job = _load(sessions, inbound_id)
        if job is None:
            return None  # released and handled elsewhere meanwhile
        deadline = budget.deadline_from_now()
        try:
            with budget.until(deadline):
                classification = edited_despite_robot_words(
                    prepare(sessions, config, analyse(job.raw, job.envelope, config, dns=dns), job))
        except TooComplex as exc:
            classification = too_complex(str(exc))
        try:
            return _route(sessions, config, inbound_id, classification, deadline, write_lock)
        except TooComplex as exc:
            log.warning("inbound %s: over its CPU budget (%s): recorded as too complex", inbound_id, exc)
            return _route(sessions, config, inbound_id, too_complex(str(exc), classification), None, write_lock)
    except Exception as exc:  # one bad message must not stop the queue; it is recorded below
        log.exception("inbound %s: processing failed", inbound_id)
        with write_lock or nullcontext():
            return _record_failure(sessions, inbound_id, exc)


def _load(sessions: sessionmaker[Session], inbound_id: int) -> Job | None:
    with read_sessions(sessions.kw["bind"])() as session:
        row = session.execute(
            select(InboundMessage.raw, InboundMessage.state, InboundMessage.envelope_from, InboundMessage.envelope_to,
                   InboundMessage.subject, InboundMessage.sender)
            .where(InboundMessage.id == inbound_id)
        ).first()
    if row is None or row.state != "processing":
        return None
    return Job(row.raw, Envelope(row.envelope_from or "", tuple(row.envelope_to or ())), row.subject or "",
               row.sender or "")


def _route(sessions: sessionmaker[Session], config: Config, inbound_id: int, classification: Classification,
           deadline: float | None, write_lock: threading.Lock | None) -> str | None:
    with write_lock or nullcontext(), sessions.begin() as session:
        inbound = session.scalars(
            select(InboundMessage).where(InboundMessage.id == inbound_id).with_for_update()
        ).first()
        if inbound is None or inbound.state != "processing":
            return None
        with budget.until(deadline):
            handle(session, config, inbound, classification)
        return inbound.state


def is_transient(exc: Exception) -> bool:
    """Lost connections, lock timeouts, deadlocks: worth another attempt, unlike a bug or bad data."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _record_failure(sessions: sessionmaker[Session], inbound_id: int, exc: Exception) -> str | None:
    try:
        with sessions.begin() as session:
            inbound = session.get(InboundMessage, inbound_id)
            if inbound is None or inbound.state != "processing":
                return None
            if is_transient(exc) and inbound.attempts < MAX_ATTEMPTS:
                inbound.state, inbound.claimed_at, inbound.claimed_by = "queued", None, None
            else:
                inbound.state = "error"
                inbound.error = f"{exc.__class__.__name__}: {exc}"[:2000]
            return inbound.state
    except SQLAlchemyError:
        # The store itself is failing: the row stays `processing` until its lease expires.
        log.exception("inbound %s: could not record the failure", inbound_id)
        return None


def process_pending(engine: Engine, config: Config, *, limit: int | None = None, dns: DnsLookup | None = None) -> int:
    """Process queued messages until none is left (or `limit`); returns how many were handled."""
    sessions = session_factory(engine)
    done = 0
    while limit is None or done < limit:
        ids = claim(engine, CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - done))
        if not ids:
            break
        for inbound_id in ids:
            process_claimed(sessions, config, inbound_id, dns=dns)
            done += 1
    return done


def run_worker(engine: Engine, config: Config, stop: threading.Event, *, wake: threading.Event | None = None,
               idle_seconds: float = 1.0, batch: int = CLAIM_BATCH, pressure: Callable[[], bool] | None = None,
               write_lock: threading.Lock | None = None, on_processed: Callable[[], None] | None = None) -> None:
    """The long-running form used by `mailbot serve`: claim, process, sleep while idle, until `stop`.

    On stop, the message in hand is finished and the rest of the claimed batch released. While
    `pressure()` is true (senders waiting for their message to be stored), each message waits up to
    `GIVE_WAY_SECONDS` before taking its turn. `write_lock`, shared by the writers of one process,
    makes them queue in Python rather than in SQLite's busy handler, which sleeps up to 100 ms a try.
    `on_processed` is called after each message (`serve` wakes its delivery worker: an answer may wait).
    """
    sessions = session_factory(engine)
    failures = 0
    while not stop.is_set():
        try:
            with write_lock or nullcontext():
                ids = claim(engine, batch)
            failures = 0
        except SQLAlchemyError as exc:
            failures += 1
            log.warning("cannot claim inbound messages (%s): retrying", exc.__class__.__name__)
            stop.wait(min(30.0, idle_seconds * 2 ** failures))
            continue
        if not ids:
            idle(stop, wake, idle_seconds)
            continue
        for index, inbound_id in enumerate(ids):
            if stop.is_set():
                released = release(engine, ids[index:])
                log.info("shutdown: released %d claimed message(s)", released)
                break
            _give_way(pressure, stop)
            process_claimed(sessions, config, inbound_id, write_lock=write_lock)
            if on_processed is not None:
                on_processed()


def _give_way(pressure: Callable[[], bool] | None, stop: threading.Event) -> None:
    if pressure is None:
        return
    deadline = time.monotonic() + GIVE_WAY_SECONDS
    while pressure() and time.monotonic() < deadline and not stop.is_set():
        time.sleep(0.002)


# --- for people ----------------------------------------------------------------------------------------

def reprocess(engine: Engine, config: Config, inbound_id: int) -> InboundMessage:
    """Run classification and routing again on one message, now (`mailbot inbox reprocess`)."""
    with engine.begin() as conn:
        state = conn.scalar(select(InboundMessage.state).where(InboundMessage.id == inbound_id))
        if state is None:
            raise InboxError(f"aucun message reçu n° {inbound_id} (voir `mailbot inbox list`)")
        claimed = conn.execute(
            update(InboundMessage).where(InboundMessage.id == inbound_id, InboundMessage.state != "processing")
            .values(state="processing", claimed_at=utcnow(), claimed_by=this_owner(), attempts=0, error=None)
        )
        if claimed.rowcount != 1:
            raise InboxError(f"le message reçu n° {inbound_id} est en cours de traitement : réessayez dans un instant")
    sessions = session_factory(engine)
    process_claimed(sessions, config, inbound_id)
    with sessions() as session:
        return session.get(InboundMessage, inbound_id)
