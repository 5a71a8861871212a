"""The outbox: every message the bot sends is stored here first, then sent by the delivery worker.

`enqueue` stores the rendered bytes and one `Delivery` per recipient in the caller's transaction, so
a message is either fully queued or not at all. The delivery worker sends a message to all its
recipients in one SMTP transaction, under a signed VERP return path: `local+b-<delivery id>-<mac>@domain`
when the transaction carries one recipient (a bounce then names it even when the remote MTA's
report is poor), `local+m-<message id>-<mac>@domain` when it carries several (the bounce's report
says which of them failed).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Callable
from uuid import uuid4

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from store.campaign_models import Delivery, OutboundMessage
from mailbot.clock import utcnow
from mailbot.outbound.render import message_bytes

VERP_RE = re.compile(r"\+([bm])-([0-9a-z]+)-([0-9a-f]{8})@", re.IGNORECASE)



@dataclass(frozen=True)
class Recipient:
    address: str
    contact_id: int | None = None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def plus_address(from_address: str, tag: str) -> str:
    local, _, domain = from_address.partition("@")
    return f"{local}+{tag}@{domain}"


def new_message_id(from_address: str) -> str:
    return make_msgid(idstring="atlas", domain=domain_of(from_address))


def _verp_mac(secret: str, kind: str, row_id: int) -> str:
    # the delivery form keeps its original MAC input, so bounces of mail sent before the message
    # form existed still verify
    subject = f"verp|{row_id}" if kind == "b" else f"verp-{kind}|{row_id}"
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()[:8]


def verp_address(secret: str, from_address: str, delivery_id: int) -> str:
    """The return path of a transaction carrying one delivery."""
    return plus_address(from_address, f"b-{delivery_id:x}-{_verp_mac(secret, 'b', delivery_id)}")


def message_verp_address(secret: str, from_address: str, outbound_id: int) -> str:
    """The return path of a transaction carrying several deliveries of one outbound message."""
    return plus_address(from_address, f"m-{outbound_id:x}-{_verp_mac(secret, 'm', outbound_id)}")


def return_path(secret: str, from_address: str, outbound_id: int, delivery_ids: list[int]) -> str:
    """The return path of one SMTP transaction of a message: the delivery's own when it carries one
    recipient, the message's when it carries several."""
    if len(delivery_ids) == 1:
        return verp_address(secret, from_address, delivery_ids[0])
    return message_verp_address(secret, from_address, outbound_id)


def parse_return_path(secret: str, address: str) -> tuple[str, int] | None:
    """("delivery", id) or ("message", outbound id) from one of our return paths; None if it is
    not ours or was altered."""
    match = VERP_RE.search(address or "")
    if not match:
        return None
    kind, row_id = match.group(1).lower(), int(match.group(2), 16)
    if not hmac.compare_digest(_verp_mac(secret, kind, row_id), match.group(3).lower()):
        return None
    return ("delivery" if kind == "b" else "message", row_id)


def parse_verp(secret: str, address: str) -> int | None:
    """The delivery id carried by one of our one-recipient return paths, or None."""
    parsed = parse_return_path(secret, address)
    return parsed[1] if parsed and parsed[0] == "delivery" else None


def enqueue(
    session: Session,
    message: EmailMessage | Callable[[int], EmailMessage],
    recipients: list[Recipient],
    *,
    kind: str,
    campaign_id: int | None = None,
    collectivite_id: int | None = None,
    token: str | Callable[[int], str] | None = None,
) -> OutboundMessage:
    """Store a message and one queued delivery per recipient; the caller commits.

    `message` is a finished EmailMessage (with Message-ID: use `new_message_id`), or a builder called
    with the new row's id, for messages whose body names their own id (the signed form token).
    `token` likewise may be a string or a function of the id.
    """
    now = utcnow()
    outbound = OutboundMessage(
        kind=kind, campaign_id=campaign_id, collectivite_id=collectivite_id,
        message_id=f"<pending-{uuid4().hex}>", subject="", recipients=[], raw=b"", created_at=now,
    )
    session.add(outbound)
    if callable(message) or callable(token):
        session.flush()  # the id is part of what we are about to write
    built = message(outbound.id) if callable(message) else message
    if not built["Message-ID"]:
        raise ValueError("outbound message needs a Message-ID")
    outbound.token = token(outbound.id) if callable(token) else token
    outbound.message_id = str(built["Message-ID"])
    outbound.in_reply_to = str(built["In-Reply-To"]) if built["In-Reply-To"] else None
    outbound.subject = str(built["Subject"] or "")
    outbound.recipients = [r.address for r in recipients]
    outbound.raw = message_bytes(built)
    for recipient in _unique(recipients):
        outbound.deliveries.append(
            Delivery(recipient=recipient.address, contact_id=recipient.contact_id, state="queued", next_attempt_at=now)
        )
    session.flush()
    return outbound


@dataclass(frozen=True)
class Prepared:
    """A message rendered outside the ORM (its bytes, possibly by another process), for bulk queuing."""

    outbound_id: int
    raw: bytes
    message_id: str
    subject: str
    recipients: list[Recipient]
    kind: str
    campaign_id: int | None
    collectivite_id: int | None
    token: str | None
    in_reply_to: str | None = None


def reserve_ids(session: Session, count: int) -> list[int]:
    """Ids for `count` outbound messages, known before they are written (a form's token names its id).

    SQLite: the caller's write transaction (BEGIN IMMEDIATE) holds the database lock, so max(id)
    cannot move under us. PostgreSQL: the id sequence hands out the values.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence('outbound_message', 'id')) FROM generate_series(1, :n)"),
            {"n": count},
        )
        return [row[0] for row in rows]
    start = session.scalar(select(func.coalesce(func.max(OutboundMessage.id), 0))) + 1
    return list(range(start, start + count))


def enqueue_many(session: Session, prepared: list[Prepared]) -> None:
    """Write many prepared messages and their deliveries with a few bulk statements."""
    if not prepared:
        return
    now = utcnow()
    session.execute(insert(OutboundMessage), [
        {
            "id": p.outbound_id, "kind": p.kind, "campaign_id": p.campaign_id, "collectivite_id": p.collectivite_id,
            "token": p.token, "message_id": p.message_id, "in_reply_to": p.in_reply_to,
            "subject": p.subject, "recipients": [r.address for r in p.recipients],
            "raw": p.raw, "created_at": now,
        }
        for p in prepared
    ])
    session.execute(insert(Delivery), [
        {"outbound_id": p.outbound_id, "recipient": r.address, "contact_id": r.contact_id, "state": "queued",
         "attempts": 0, "next_attempt_at": now}
        for p in prepared for r in _unique(p.recipients)
    ])


def _unique(recipients: list[Recipient]) -> list[Recipient]:
    seen: set[str] = set()
    unique = []
    for recipient in recipients:
        if recipient.address.lower() not in seen:
            seen.add(recipient.address.lower())
            unique.append(recipient)
    return unique
