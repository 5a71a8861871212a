"""Campaigns and the outbox.

A campaign targets collectivités; each summary message is rendered into the store (with the exact
snapshot it shows) before a delivery worker sends it. A `Delivery` is one SMTP envelope: one
recipient, its own VERP return path, its own state. The outbox is the only way mail leaves the bot.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
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
from sqlalchemy.sql import false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, Collectivite

OUTBOUND_KINDS = (
    "summary", "reminder", "ack", "explanation", "help", "decision", "digest", "circular", "report", "question",
    "reviewer_reply",
)
# sending: claimed, the final dot not sent; inflight: the final dot may have reached the relay, its
# answer not recorded (a claim found so after its owner died is retried and marked `uncertain`)
DELIVERY_STATES = ("queued", "sending", "inflight", "sent", "deferred", "failed")


class Campaign(Base):
    __tablename__ = "campaign"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    rules_path: Mapped[str] = mapped_column(String(500))
    rules_text: Mapped[str] = mapped_column(Text)  # the rules as they were when the campaign was created
    year: Mapped[int] = mapped_column(Integer)
    apd_editable_year: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class CampaignTarget(Base):
    """One collectivité in one campaign, with what happened to it."""

    __tablename__ = "campaign_target"
    __table_args__ = (UniqueConstraint("campaign_id", "collectivite_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id", ondelete="CASCADE"), index=True)
    summary_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id"))
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminder_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    collectivite: Mapped[Collectivite] = relationship()


class OutboundMessage(Base):
    """A rendered message, stored before it is sent."""

    __tablename__ = "outbound_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    collectivite_id: Mapped[int | None] = mapped_column(ForeignKey("collectivite.id"), index=True)
    token: Mapped[str | None] = mapped_column(String(40), index=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(250))
    subject: Mapped[str] = mapped_column(String(500))
    recipients: Mapped[list] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="message", order_by="Delivery.id")


class Snapshot(Base):
    """Exactly what a summary showed: the records and their versions. Replies are diffed against it."""

    __tablename__ = "snapshot"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbound_id: Mapped[int] = mapped_column(ForeignKey("outbound_message.id", ondelete="CASCADE"), unique=True)
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id"), index=True)
    data: Mapped[dict] = mapped_column(JSON)


class Delivery(Base):
    """One SMTP envelope of one outbound message: one recipient, its own VERP return path."""

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("outbound_id", "recipient"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbound_id: Mapped[int] = mapped_column(ForeignKey("outbound_message.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # see mailbot.leases
    # the relay may have had it once already: a crash or a lost connection between the final dot and
    # the relay's answer (it was sent again, with the same Message-ID)
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    bounced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    message: Mapped[OutboundMessage] = relationship(back_populates="deliveries")


class ReminderLog(Base):
    __tablename__ = "reminder_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id"), index=True)
    outbound_id: Mapped[int] = mapped_column(ForeignKey("outbound_message.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    missing: Mapped[list] = mapped_column(JSON)
