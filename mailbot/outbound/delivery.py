"""The delivery worker: sends what the outbox holds, each envelope exactly once.

A delivery is one recipient of one stored message. The deliveries of a message claimed together
go in one SMTP transaction (one DATA for all its recipients: a relay's work, and ours, is mostly
per DATA, and a summary has 1.7 recipients on average):
1. claim them (state `sending`, owner and time recorded, committed; see `mailbot.leases`) — a
   claim whose owner is gone, or older than the lease, goes back to `queued`: the relay never saw a
   complete DATA, because a connection dropped before the final dot aborts the SMTP transaction;
2. mark them `inflight`, all or none, and commit (with the previous message's 250, see below);
3. MAIL FROM (our VERP return path, see `mailbot.outbound.outbox`), one RCPT TO per recipient — a refused
   recipient gets its own outcome, the others go on —, DATA, the message, the final dot;
4. read the relay's answer, which is every accepted recipient's: 250 → `sent`; 4xx → `deferred`
   with backoff; 5xx → `failed`, recorded per recipient; no answer (the connection lost, a crash)
   → the outcome is unknown: sent again later, same bytes and Message-ID, and marked `uncertain`
   (`campaign status` counts them). Nobody is ever recorded sent without the relay's 250.
A 250 is recorded in the same transaction as the next message's step 2, which follows it at once
(or the next claim, or before a rate-limit wait, or when the thread stops), so a message still costs
one commit; a crash between a 250 and that commit leaves the message `inflight`: sent twice,
counted uncertain — never lost. The price of marking before MAIL FROM rather than just before the
final dot: a crash during a transaction counts its message uncertain even when the dot never left.

TLS and AUTH (`MAILBOT_SMTP`, see `mailbot.config.parse_smtp_url`): the relay's certificate is always
verified, against the system's CAs or only the configured `cafile`; with `starttls=1` a relay that
does not offer STARTTLS is refused before MAIL FROM, so nothing ever goes out in clear. When the
relay itself refuses us (no STARTTLS, certificate not trusted, AUTH rejected) no recipient is at
fault: the one envelope being tried records the error (an attempt, so the backoff schedule bounds
the retries), the rest of the claim goes back to the queue, and every worker of the run stops,
instead of trying — and failing, and hammering the relay's AUTH — each envelope in turn.
"""
from __future__ import annotations

import base64
import logging
import re
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable, NamedTuple, Sequence

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from mailbot.clock import idle, utcnow
from mailbot.config import Config, SmtpTarget
from mailbot.leases import DEFAULT_LEASE_SECONDS, gone_owners, lease_cutoff, this_owner
from mailbot.outbound.outbox import return_path
from store.campaign_models import Delivery, OutboundMessage
from store.queries import address_bouncing
from store.db import one_line

log = logging.getLogger("mailbot.delivery")

BACKOFF_SECONDS = (60, 300, 900, 3600, 4 * 3600, 12 * 3600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
CLAIM_BATCH = 100
CLAIMED_SECONDS = 5.0  # under a rate limit, a claim holds about this much work
CONNECT_TIMEOUT = 30
POLL_SECONDS = 0.1  # while a campaign is still rendering into the outbox



@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    uncertain: int = 0  # of the deferred: the final dot went, its answer never came
    errors: list[str] = field(default_factory=list)
    relay_error: str | None = None  # the relay refused us (TLS, AUTH): the run stopped there
    relay_unreachable: str | None = None  # why the relay could not be reached, when it could not

    @property
    def attempted(self) -> int:
        return self.sent + self.deferred + self.failed


@dataclass(frozen=True)
class Outcome:
    state: str  # sent | deferred | failed | lost (claim taken by another worker) | relay (RelayError)
    code: int | None
    detail: str
    at_rcpt: bool = False  # refused at RCPT TO: about this address, not the message or the relay
    uncertain: bool = False  # the final dot was sent and no answer came: the relay may have it
    relay_down: bool = False  # no answer from the relay at all: about the relay, not this message


UNKNOWN_OUTCOME = Outcome("deferred", None, "connexion perdue entre le point final et la réponse du relais : "
                          "issue inconnue, message renvoyé plus tard avec le même Message-ID", uncertain=True)


class StoreAway(Exception):
    """The store failed while a transaction was open at the relay: it was aborted before the final
    dot; this run stops claiming for a moment (the claim comes back by its lease)."""


class RelayError(Exception):
    """The relay refused the connection itself (TLS or AUTH), whatever the recipient."""

    def __init__(self, detail: str, code: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code


def tls_context(target: SmtpTarget) -> ssl.SSLContext:
    """A verifying client context: the system's CAs, or only `target.cafile` when it is set."""
    return ssl.create_default_context(cafile=target.cafile)


class RelayConnection:
    """One reusable SMTP connection to the configured relay (STARTTLS and AUTH when configured)."""

    def __init__(self, target: SmtpTarget, local_hostname: str | None = None):
        self.target = target
        self.local_hostname = local_hostname
        self.smtp: smtplib.SMTP | None = None

    def ensure(self) -> smtplib.SMTP:
        """The open connection, or a new one: TLS verified, authenticated. Raises RelayError."""
        if self.smtp is not None:
            return self.smtp
        target = self.target
        try:
            if target.ssl:
                # smtplib.SMTP_SSL without a context does not verify the certificate: always pass one
                smtp = smtplib.SMTP_SSL(target.host, target.port, local_hostname=self.local_hostname,
                                        timeout=CONNECT_TIMEOUT, context=tls_context(target))
            else:
                smtp = smtplib.SMTP(target.host, target.port, local_hostname=self.local_hostname,
                                    timeout=CONNECT_TIMEOUT)
        except ssl.SSLCertVerificationError as exc:
            raise RelayError(_certificate_refused(target, exc)) from None
        try:
            self._open_session(smtp)
        except BaseException:
            smtp.close()
            raise
        self.smtp = smtp
        return smtp

    def _open_session(self, smtp: smtplib.SMTP) -> None:
        target = self.target
        # The final dot goes in a write of its own (see send_transaction): without TCP_NODELAY, Nagle's
        # algorithm holds it until the relay's delayed ACK, some 40 ms per envelope.
        smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        smtp.ehlo()
        if target.starttls:
            if not smtp.has_extn("starttls"):
                raise RelayError(f"le relais {target.host}:{target.port} n'offre pas STARTTLS alors que "
                                 "starttls=1 est configuré : rien n'a été envoyé en clair")
            try:
                smtp.starttls(context=tls_context(target))
            except ssl.SSLCertVerificationError as exc:
                raise RelayError(_certificate_refused(target, exc)) from None
            smtp.ehlo()
        if target.user:
            try:
                _login(smtp, target.user, target.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise RelayError(f"le relais {target.host}:{target.port} refuse l'authentification de "
                                 f"{target.user!r} ({exc.smtp_code} {_decode(exc.smtp_error)}) : vérifiez "
                                 "l'identifiant et le mot de passe de MAILBOT_SMTP", exc.smtp_code) from None
            except smtplib.SMTPNotSupportedError:
                raise RelayError(f"le relais {target.host}:{target.port} n'offre pas AUTH alors que des "
                                 "identifiants sont configurés") from None
            except smtplib.SMTPException as exc:  # "No suitable authentication method found."
                raise RelayError(f"authentification impossible sur le relais {target.host}:{target.port} : "
                                 f"{exc}") from None

    def reset(self) -> None:
        """After an error mid-transaction: RSET if the connection still answers, else drop it."""
        if self.smtp is None:
            return
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def abort(self) -> None:
        """Drop the socket without QUIT: mid-DATA, that is what cancels the transaction."""
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.smtp = None


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """AUTH PLAIN (RFC 4616: UTF-8, one round trip, always inside TLS here) when the relay offers it;
    otherwise smtplib's login. Not smtplib's login first: it cannot encode a non-ASCII password
    (it raises UnicodeEncodeError) and, refused, it retries with every other mechanism."""
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    if "PLAIN" not in smtp.esmtp_features["auth"].upper().split():
        smtp.login(user, password)
        return
    response = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
    code, message = smtp.docmd("AUTH", f"PLAIN {response}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, message)


def _certificate_refused(target: SmtpTarget, exc: ssl.SSLCertVerificationError) -> str:
    trusted = f"l'autorité {target.cafile}" if target.cafile else "les autorités du système"
    return (f"certificat du relais {target.host}:{target.port} refusé ({exc.verify_message}) : il n'est pas "
            f"signé par {trusted} ou ne porte pas ce nom ; pour un certificat privé, ajoutez ?cafile=CHEMIN "
            "à MAILBOT_SMTP")


_BARE_EOL = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _data_bytes(raw: bytes) -> bytes:
    """The DATA payload without the final dot: CRLF line ends, dot-stuffed (RFC 5321 4.5.2)."""
    # the usual case (the email package writes \n line ends, no line starts with a dot) without
    # regular expressions: two bytes.replace are some ten times faster on a 20 KB summary
    data = raw.replace(b"\n", b"\r\n") if b"\r" not in raw else _BARE_EOL.sub(b"\r\n", raw)
    if data.startswith(b".") or b"\n." in data:
        data = _LEADING_DOT.sub(b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _classify_code(code: int, detail: str) -> Outcome:
    if 200 <= code < 300:
        return Outcome("sent", code, detail)
    if 400 <= code < 500:
        return Outcome("deferred", code, detail)
    return Outcome("failed", code, detail)


def _decode(message) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def send_transaction(conn: RelayConnection, sender: str, recipients: Sequence[str], raw: bytes,
                     mark_inflight: Callable[[], bool]) -> list[Outcome]:
    """Run one SMTP transaction for one message; an Outcome per recipient, in their order.

    `mark_inflight()` commits the recipients `inflight` before anything is sent (the transaction
    that also records the previous message's 250, right after it came). If it returns False our
    claim was taken from us (another worker released and re-took it): nothing is sent. If the store
    fails there, `StoreAway`. No answer after the final dot is `UNKNOWN_OUTCOME`.
    """
    try:
        if not mark_inflight():
            return [Outcome("lost", None, "claim lost to another worker")] * len(recipients)
    except SQLAlchemyError as exc:
        raise StoreAway(one_line(exc)) from exc
    smtp, (code, msg) = _mail_from(conn, sender, recipients)
    if code != 250:
        conn.reset()
        return [_refused(code, _decode(msg))] * len(recipients)
    outcomes: list[Outcome | None] = []
    for recipient in recipients:
        code, msg = smtp.rcpt(recipient)
        outcomes.append(None if code in (250, 251) else _refused(code, _decode(msg), at_rcpt=True))
    accepted = [index for index, outcome in enumerate(outcomes) if outcome is None]
    if not accepted:
        conn.reset()
        return outcomes
    code, msg = smtp.docmd("DATA")
    if code != 354:
        conn.reset()
        return _for_accepted(outcomes, _refused(code, _decode(msg)))
    smtp.send(_data_bytes(raw))
    try:
        smtp.send(b".\r\n")
        code, msg = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError):
        conn.abort()
        return _for_accepted(outcomes, UNKNOWN_OUTCOME)
    return _for_accepted(outcomes, _classify_code(code, _decode(msg)))


def _mail_from(conn: RelayConnection, sender: str, recipients: Sequence[str]):
    """MAIL FROM, on the open connection or a new one. A relay closes a connection left idle (its
    timeout, say while the worker waited for summaries to be rendered): found closed at this first
    command, before anything of the message was sent, it is opened again once, not a deferral."""
    def mail(smtp: smtplib.SMTP):
        return smtp.mail(sender, ["SMTPUTF8"] if _needs_smtputf8(sender, recipients, smtp) else [])

    reused = conn.smtp is not None
    smtp = conn.ensure()
    try:
        return smtp, mail(smtp)
    except (smtplib.SMTPServerDisconnected, OSError):
        conn.abort()
        if not reused:
            raise
    smtp = conn.ensure()
    return smtp, mail(smtp)


def _refused(code: int, detail: str, *, at_rcpt: bool = False) -> Outcome:
    """A refusal before DATA: a 2xx there other than the expected one is no delivery either."""
    outcome = _classify_code(code, detail) if code >= 300 else Outcome("deferred", code, detail)
    return replace(outcome, at_rcpt=at_rcpt)


def _for_accepted(outcomes: list[Outcome | None], outcome: Outcome) -> list[Outcome]:
    return [outcome if known is None else known for known in outcomes]


def _needs_smtputf8(sender: str, recipients: Sequence[str], smtp: smtplib.SMTP) -> bool:
    return not all(address.isascii() for address in (sender, *recipients)) and smtp.has_extn("smtputf8")


def release_orphaned(engine: Engine, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> int:
    """Claims that belong to nobody (their owner is gone, or their lease expired) go back to the queue.

    `sending`: the final dot was never sent, the relay has nothing. `inflight`: it may have the
    message, or not: sent again, marked `uncertain`. Safe even if the owner is alive after all: it
    will fail to mark its claim (see `send_transaction`) or to record its 250, so at most one worker
    sends the final dot of a claim, and no recipient is recorded sent without a 250.
    """
    claimed = Delivery.state.in_(("sending", "inflight"))
    with engine.begin() as conn:
        owners = conn.scalars(select(Delivery.claimed_by).where(claimed).distinct()).all()
        orphaned = Delivery.claimed_at < lease_cutoff(lease_seconds)
        gone = gone_owners(owner for owner in owners if owner)
        if gone:
            orphaned = or_(orphaned, Delivery.claimed_by.in_(gone))
        released = 0
        for state, extra in (("sending", {}), ("inflight", {"uncertain": True})):
            result = conn.execute(update(Delivery).where(Delivery.state == state, orphaned)
                                  .values(state="queued", claimed_at=None, claimed_by=None, **extra))
            released += result.rowcount or 0
    if released:
        log.warning("released %d delivery claim(s) that belonged to nobody", released)
    return released


class Claimed(NamedTuple):
    delivery_id: int
    outbound_id: int
    recipient: str
    attempts: int
    claimed_at: datetime


@dataclass(frozen=True)
class Transaction:
    """The claimed deliveries of one outbound message: one SMTP transaction."""
    raw: bytes
    deliveries: list[Claimed]


def _claim(db: Connection, limit: int, campaign_id: int | None, only_ids: set[int] | None,
           marks: "SentMarks | None" = None) -> list[Transaction]:
    """Claim up to `limit` due deliveries, grouped by message (in the order of their first delivery).
    `marks`: 250s not yet recorded, written in the same transaction."""
    now = utcnow()
    due = and_(
        Delivery.state.in_(("queued", "deferred")),
        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
    )
    query = select(Delivery.id).where(due).order_by(Delivery.id).limit(limit)
    if campaign_id is not None:
        query = query.join(OutboundMessage).where(OutboundMessage.campaign_id == campaign_id)
    if only_ids is not None:
        query = query.where(Delivery.outbound_id.in_(only_ids))
    if db.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Delivery)
    by_message: dict[int, list[Claimed]] = {}
    raws: dict[int, bytes] = {}
    with db.begin():
        if marks is not None:
            marks.write()
        ids = list(db.scalars(query))
        if ids:
            by_message, raws = _take(db, ids, due, now)
    if marks is not None:
        marks.written()
    return [Transaction(raws[outbound_id], claimed) for outbound_id, claimed in by_message.items()]


def _take(db: Connection, ids: list[int], due, now: datetime) -> tuple[dict[int, list[Claimed]], dict[int, bytes]]:
    """Claim `ids` in the caller's transaction: the claims by message, and the messages' bytes."""
    db.execute(
        update(Delivery).where(Delivery.id.in_(ids), due)
        .values(state="sending", claimed_at=now, claimed_by=this_owner())
    )
    rows = db.execute(
        select(Delivery.id, Delivery.outbound_id, Delivery.recipient, Delivery.attempts, Delivery.claimed_at)
        .where(Delivery.id.in_(ids), Delivery.state == "sending", Delivery.claimed_at == now)
        .order_by(Delivery.id)
    ).all()
    by_message: dict[int, list[Claimed]] = {}
    for row in rows:
        by_message.setdefault(row.outbound_id, []).append(Claimed(*row))
    raws = dict(db.execute(select(OutboundMessage.id, OutboundMessage.raw)
                           .where(OutboundMessage.id.in_(by_message))).all())
    return by_message, raws


def _record(db: Connection, delivery_id: int, recipient: str, attempts: int, outcome: Outcome) -> Outcome:
    """Store a recipient's outcome; the outcome as recorded (a deferral out of attempts is a failure).

    An address the relay refuses for good at RCPT is marked bouncing on its contacts, as a bounce
    report would: it leaves the collectivité's usable addresses (reminders, later summaries)."""
    values: dict = {"attempts": attempts + 1, "smtp_code": outcome.code, "detail": outcome.detail[:2000]}
    if outcome.uncertain:
        values["uncertain"] = True
    if outcome.state == "deferred" and attempts + 1 >= MAX_ATTEMPTS:
        outcome = replace(outcome, state="failed", detail=f"abandon après {attempts + 1} tentatives : {outcome.detail}")
        values["detail"] = outcome.detail[:2000]
    values["state"] = outcome.state
    if outcome.state == "deferred":
        values["next_attempt_at"] = utcnow() + timedelta(seconds=BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS) - 1)])
        values["claimed_at"] = values["claimed_by"] = None
    with db.begin():
        db.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))
        if outcome.state == "failed" and outcome.at_rcpt:
            db.execute(address_bouncing(recipient, f"refusé par le relais : {outcome.code} {outcome.detail}", utcnow()))
    return outcome


@lru_cache(maxsize=16)
def _mark_statement(count: int, state: str):
    """UPDATE moving `count` deliveries of one claim to `state` (`inflight` from `sending`, `sent`
    from `inflight`), built once per count: SQLAlchemy spends more CPU building, keying (and, for an
    expanding IN, rewriting) a statement than SQLite running it, and these run once per message.
    Parameters: b_id0…, b_claimed_at, and b_sent_at for `sent`."""
    before = {"inflight": "sending", "sent": "inflight"}[state]
    values = {"state": state}
    if state == "sent":
        values.update(sent_at=bindparam("b_sent_at"), smtp_code=250)
    return (
        update(Delivery)
        .where(Delivery.id.in_([bindparam(f"b_id{index}") for index in range(count)]),
               Delivery.state == before, Delivery.claimed_at == bindparam("b_claimed_at"))
        .values(**values)
    )


def _claim_params(ids: list[int], claimed_at: datetime) -> dict:
    params: dict = {f"b_id{n}": delivery_id for n, delivery_id in enumerate(ids)}
    params["b_claimed_at"] = claimed_at
    return params


class SentMarks:
    """The 250s one delivery thread received and has not recorded yet. They are written in the
    thread's next transaction (the next message's `inflight` mark, or the next claim) instead of a
    commit of their own; `flush` commits them when there is no next transaction to share."""

    def __init__(self, db: Connection):
        self.db = db
        self.pending: list[tuple[list[int], datetime, datetime]] = []

    def add(self, ids: list[int], claimed_at: datetime) -> None:
        self.pending.append((ids, claimed_at, utcnow()))

    def write(self) -> None:
        """Execute the marks in the caller's open transaction; `written()` once it committed."""
        for ids, claimed_at, sent_at in self.pending:
            self.db.execute(_mark_statement(len(ids), "sent"), {**_claim_params(ids, claimed_at), "b_sent_at": sent_at})

    def written(self) -> None:
        self.pending.clear()

    def flush(self) -> None:
        if self.pending:
            with self.db.begin():
                self.write()
            self.written()


def _mark_inflight(db: Connection, marks: SentMarks, deliveries: list[Claimed]) -> Callable[[], bool]:
    """Mark the deliveries of one transaction in flight, all of them or none, on `db` (the delivery
    thread's own connection), with the thread's pending 250s."""
    def mark() -> bool:
        ids = [delivery.delivery_id for delivery in deliveries]
        with db.begin() as transaction:
            marks.write()
            if db.execute(_mark_statement(len(ids), "inflight"), _claim_params(ids, deliveries[0].claimed_at)
                          ).rowcount != len(ids):
                transaction.rollback()  # one of them was taken from us: send to none of them
                marks.flush()
                return False
        marks.written()
        return True
    return mark


class RateLimiter:
    """At most `per_second` envelopes a second across all delivery threads (0: no limit)."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.clock, self.sleep = clock, sleep  # injectable: the tests check the waits on a fake clock
        self.next_at = clock()
        self.lock = threading.Lock()

    def wait(self, envelopes: int = 1, before_sleep: Callable[[], None] | None = None) -> None:
        """Wait for the slot of `envelopes` more (the recipients of one transaction); `before_sleep`
        runs first when there is a wait."""
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            slot = max(now, self.next_at)
            self.next_at = slot + self.interval * envelopes
        if slot > now:
            if before_sleep is not None:
                before_sleep()
            self.sleep(slot - now)


def deliver_pending(
    engine: Engine,
    config: Config,
    *,
    campaign_id: int | None = None,
    only_outbound: set[int] | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int], None] | None = None,
    relay: SmtpTarget | None = None,
    connections: int | None = None,
    until: threading.Event | None = None,
) -> DeliveryReport:
    """Send every delivery that is due now, then return. Safe to run from several processes.

    `connections` SMTP connections work in parallel threads (default: the `smtp_connections`
    setting); each claims its own batches, so no envelope is handled by two of them. With `until`,
    an empty queue is looked at again every POLL_SECONDS until that event is set (a campaign still
    rendering into the outbox).
    """
    count = max(1, int(connections or config.smtp_connections or 1))
    run = _Run(config, DeliveryReport(), threading.Lock(), RateLimiter(float(config.rate_limit or 0)),
               _Halt(stop), campaign_id, only_outbound, on_progress, until,
               claim_batch(float(config.rate_limit or 0), float(config.lease_seconds), count))

    def worker() -> None:
        conn = RelayConnection(relay or config.smtp_target)
        try:
            # one store connection per thread, kept for the run: claims, marks and records (no pool
            # checkout per message, and never more connections than threads)
            with engine.connect() as db:
                marks = SentMarks(db)
                try:
                    _deliver_loop(db, marks, conn, run)
                finally:
                    _flush_quietly(marks)
        finally:
            conn.close()

    if count == 1:
        worker()
        return run.report
    threads = [threading.Thread(target=worker, name=f"delivery-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run.report


def claim_batch(rate_limit: float, lease_seconds: float, threads: int) -> int:
    """Deliveries a thread claims at once: CLAIM_BATCH, or, under a rate limit, what it sends in
    CLAIMED_SECONDS (and never more than a quarter of the lease: a live claim must not look
    abandoned), so that another server finds work too instead of waiting behind a long claim."""
    if rate_limit <= 0:
        return CLAIM_BATCH
    seconds = min(CLAIMED_SECONDS, lease_seconds / 4)
    return max(1, min(CLAIM_BATCH, int(rate_limit * seconds / threads)))


@dataclass
class _Run:
    """What the delivery threads of one `deliver_pending` share."""

    config: Config
    report: DeliveryReport
    lock: threading.Lock
    limiter: "RateLimiter"
    halt: "_Halt"
    campaign_id: int | None
    only_outbound: set[int] | None
    on_progress: Callable[[int], None] | None
    until: threading.Event | None
    batch: int


class _Halt:
    """The caller's stop event, or this run's own stop when the relay refused us."""

    def __init__(self, stop: threading.Event | None):
        self.stop = stop
        self.relay_refused = threading.Event()

    def is_set(self) -> bool:
        return self.relay_refused.is_set() or bool(self.stop and self.stop.is_set())


def _flush_quietly(marks: SentMarks) -> None:
    """Record the last 250s of a thread; if the store is away they stay `inflight`, for the lease."""
    try:
        marks.flush()
    except SQLAlchemyError as exc:
        log.warning("cannot record %d message(s) the relay accepted: %s", len(marks.pending), one_line(exc))


def _deliver_loop(db: Connection, marks: SentMarks, conn: RelayConnection, run: _Run) -> None:
    stop, until = run.halt, run.until
    while not stop.is_set():
        # read before claiming: once `until` is set, everything to send is committed, so an empty
        # claim after that really means the end
        last_look = until is None or until.is_set()
        try:
            batch = _claim(db, run.batch, run.campaign_id, run.only_outbound, marks)
        except OperationalError as exc:  # the store is busy or away: wait, never lose the thread
            log.warning("cannot claim deliveries now: %s", one_line(exc.orig))
            time.sleep(1.0)
            continue
        if not batch:
            if last_look:
                return
            until.wait(POLL_SECONDS)
            continue
        try:
            _send_batch(db, marks, conn, run, batch)
        except StoreAway as exc:
            log.warning("store unavailable while sending, the claim comes back by its lease: %s", exc)
            time.sleep(1.0)


def _send_batch(db: Connection, marks: SentMarks, conn: RelayConnection, run: _Run, batch: list[Transaction]) -> None:
    for index, transaction in enumerate(batch):
        if run.halt.is_set():
            marks.flush()
            _unclaim(db, [d.delivery_id for later in batch[index:] for d in later.deliveries])
            return
        # a wait: record the last 250 now rather than after it (the commit costs nothing then, and a
        # kill during the wait would make that message uncertain)
        run.limiter.wait(len(transaction.deliveries), before_sleep=marks.flush)
        outcomes = _attempt(conn, run.config, db, marks, transaction)
        if outcomes[0].state == "relay":  # the relay refused the connection: the same for all
            first, *others = transaction.deliveries
            marks.flush()
            _relay_refused(db, run, first, outcomes[0],
                           [d.delivery_id for d in others] +
                           [d.delivery_id for later in batch[index + 1:] for d in later.deliveries])
            return
        accepted = [d.delivery_id for d, o in zip(transaction.deliveries, outcomes) if o.state == "sent" and o.code == 250]
        if accepted:
            marks.add(accepted, transaction.deliveries[0].claimed_at)
        for delivery, outcome in zip(transaction.deliveries, outcomes):
            _account(db, marks, run, delivery, outcome)
        if run.on_progress:
            run.on_progress(sum(outcome.state != "lost" for outcome in outcomes))


def _account(db: Connection, marks: SentMarks, run: _Run, delivery: Claimed, outcome: Outcome) -> None:
    """Record one recipient's outcome (a plain 250 is in `marks`, recorded with the next write) and
    count it."""
    if outcome.state == "lost":
        return
    relay_down = outcome.relay_down
    if outcome.state != "sent" or outcome.code != 250:
        marks.flush()
        outcome = _record(db, delivery.delivery_id, delivery.recipient, delivery.attempts, outcome)
    log_outcome(delivery, outcome)
    with run.lock:
        report = run.report
        if relay_down:
            report.relay_unreachable = outcome.detail.removeprefix("relais injoignable : ")
        setattr(report, outcome.state, getattr(report, outcome.state) + 1)
        report.uncertain += outcome.uncertain
        if outcome.state != "sent":
            report.errors.append(f"{delivery.recipient}: {outcome.code or ''} {outcome.detail}".strip())


OUTCOME_WORDS = {"sent": "accepté par le relais", "deferred": "différé", "failed": "en échec"}


def log_outcome(delivery: Claimed, outcome: Outcome) -> None:
    """One line per recipient and attempt, for whoever watches `mailbot serve`."""
    log.info("envoi %d (message %d) à %s, tentative %d : %s%s%s%s", delivery.delivery_id, delivery.outbound_id,
             delivery.recipient, delivery.attempts + 1, OUTCOME_WORDS.get(outcome.state, outcome.state),
             f" ({outcome.code})" if outcome.code else "",
             f" — {outcome.detail}" if outcome.state != "sent" and outcome.detail else "",
             " (issue incertaine)" if outcome.uncertain else "")


def _relay_refused(db: Connection, run: _Run, delivery: Claimed, outcome: Outcome, rest: list[int]) -> None:
    """Record the refusal on the envelope tried (deferred, or failed once out of attempts), give the
    rest of the claim back, and stop every worker of this run."""
    log.error("le relais nous refuse : %s", outcome.detail)
    run.halt.relay_refused.set()
    recorded = _record(db, delivery.delivery_id, delivery.recipient, delivery.attempts,
                       Outcome("deferred", outcome.code, outcome.detail))
    if rest:
        _unclaim(db, rest)
    with run.lock:
        report = run.report
        setattr(report, recorded.state, getattr(report, recorded.state) + 1)
        report.relay_error = outcome.detail
        report.errors.append(f"relais : {outcome.detail}")


def _attempt(conn: RelayConnection, config: Config, db: Connection, marks: SentMarks,
             transaction: Transaction) -> list[Outcome]:
    """Send one transaction; an Outcome per delivery. An error of the connection is every recipient's."""
    deliveries = transaction.deliveries
    sender = return_path(config.secret, config.from_address, deliveries[0].outbound_id,
                         [d.delivery_id for d in deliveries])
    try:
        return send_transaction(conn, sender, [d.recipient for d in deliveries], transaction.raw,
                                _mark_inflight(db, marks, deliveries))
    except RelayError as exc:
        conn.close()
        outcome = Outcome("relay", exc.code, exc.detail)
    except smtplib.SMTPResponseException as exc:
        conn.close()
        outcome = _refused(exc.smtp_code, _decode(exc.smtp_error))
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        conn.close()
        log.warning("relais %s:%s injoignable : %s ; nouvel essai plus tard", conn.target.host, conn.target.port,
                    _reason(exc))
        outcome = Outcome("deferred", None, f"relais injoignable : {_reason(exc)}", relay_down=True)
    return [outcome] * len(deliveries)


def _reason(exc: BaseException) -> str:
    """Why a connection failed, in a few French words when the cause is a common one."""
    if isinstance(exc, ConnectionRefusedError):
        return "connexion refusée"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "pas de réponse (délai dépassé)"
    if isinstance(exc, socket.gaierror):
        return "nom d'hôte inconnu"
    return f"{exc.__class__.__name__}: {exc}"


def _unclaim(db: Connection, ids: list[int]) -> None:
    """Give back deliveries of our claim whose final dot we know was never sent (an `inflight` one
    among them: the relay refused us before MAIL FROM)."""
    with db.begin():
        db.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.state.in_(("sending", "inflight")),
                                          Delivery.claimed_by == this_owner())
                   .values(state="queued", claimed_at=None, claimed_by=None))


def run_worker(engine: Engine, config: Config, stop: threading.Event, *, idle_seconds: float = 1.0,
               wake: threading.Event | None = None) -> None:
    """The long-running form used by `mailbot serve`: deliver, sleep while idle, until `stop` is set.
    `wake`, set by whoever queued a message (an answer, a notice), ends the sleep at once.
    (Claims that belong to nobody come back through `mailbot.serve`'s lease sweep.)"""
    refusals = 0
    while not stop.is_set():
        report = deliver_pending(engine, config, stop=stop)
        if report.relay_error:
            # the relay refused us: try again on the backoff schedule, not every idle second
            stop.wait(BACKOFF_SECONDS[min(refusals, len(BACKOFF_SECONDS) - 1)])
            refusals += 1
            continue
        refusals = 0
        if report.attempted == 0:
            idle(stop, wake, idle_seconds)
