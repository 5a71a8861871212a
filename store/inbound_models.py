"""Mail in: the inbound queue, the log of automatic answers, and IMAP reading state.

An `InboundMessage` is stored with its exact bytes and committed before the sender is told 250 (or
before the IMAP message is flagged), then classified and routed by a worker in one transaction.
`dedupe_key` (Message-ID + a hash of the content that survives transport) makes the same message
arriving twice, by SMTP and by IMAP, one row.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base

INBOUND_SOURCES = ("smtp", "imap")
INBOUND_STATES = ("queued", "processing", "done", "error")
INBOUND_KINDS = (
    "reply", "invalid_token", "bounce", "autoreply", "list", "bulk", "command", "own", "duplicate",
    "malformed", "too_complex", "unknown", "conversation",
)
PARSE_STATES = ("pending", "parsed", "failed")


class InboundMessage(Base):
    __tablename__ = "inbound_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source: Mapped[str] = mapped_column(String(8))  # smtp | imap
    # Who sent it, from the SMTP envelope (or the delivering MTA's Return-Path over IMAP); "" = null sender.
    envelope_from: Mapped[str] = mapped_column(String(998))
    envelope_to: Mapped[list] = mapped_column(JSON)
    peer: Mapped[str | None] = mapped_column(String(100))  # SMTP client address
    imap_ref: Mapped[str | None] = mapped_column(String(500))  # folder;UIDVALIDITY=…;UID=…
    message_id: Mapped[str | None] = mapped_column(String(500), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    subject: Mapped[str | None] = mapped_column(String(998))  # for people listing the inbox
    from_header: Mapped[str | None] = mapped_column(String(998))  # display only, never trusted

    state: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # see mailbot.leases
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    kind: Mapped[str | None] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON)
    sender: Mapped[str] = mapped_column(String(998), default="")  # the address answers go to (RFC 3834)
    collectivite_id: Mapped[int | None] = mapped_column(ForeignKey("collectivite.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"), index=True)
    answered_outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id"), index=True)
    response_outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id"))
    trusted: Mapped[bool | None] = mapped_column(Boolean)
    flag: Mapped[str | None] = mapped_column(String(100))  # e.g. « expéditeur non reconnu »
    parse_state: Mapped[str | None] = mapped_column(String(12), index=True)


class AnswerLog(Base):
    """Every automatic answer, so loops are bounded per address and per day."""

    __tablename__ = "answer_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(998), index=True)  # lowercased
    day: Mapped[date] = mapped_column(Date, index=True)  # UTC
    kind: Mapped[str] = mapped_column(String(20))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id", ondelete="SET NULL"))
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ImapState(Base):
    """The highest UID stored from one folder under one UIDVALIDITY."""

    __tablename__ = "imap_state"
    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500))  # user@host:port/folder
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
