"""Pending change sets (what a reply asked for) and the audit trail (what reviewers applied).

One change set per (collectivité, reply). A change carries the record reference, the field, the
value as the agent saw it, the value asked for, the record version the agent saw (for conflict
detection), and its validation errors and fuzzy matches as data.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base

CHANGESET_STATES = ("pending", "approved", "rejected", "partial", "superseded", "confirmed", "answered", "read")
# changes: what a form asked for; message: words an agent wrote in a thread of ours, for a reviewer to
# read and answer (no change, or only the attachments it proposes) — closed by `answered` or `read`
CHANGESET_KINDS = ("changes", "message")
CHANGE_OPS = ("create", "update", "delete", "move")
CHANGE_ENTITIES = ("contact", "reseau", "apd", "cooperation", "projet", "action")
CHANGE_STATES = ("pending", "applied", "rejected", "conflict")


class ChangeSet(Base):
    __tablename__ = "change_set"
    __table_args__ = (Index("ix_change_set_status_created", "status", "created_at", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"), index=True)
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id"), index=True)
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id"), index=True)  # the form answered
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_message.id"), index=True)  # the reply
    thread_key: Mapped[str] = mapped_column(String(100), index=True)
    sender: Mapped[str] = mapped_column(String(254))
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    has_errors: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    has_conflicts: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    reverts_id: Mapped[int | None] = mapped_column(ForeignKey("change_set.id"))
    # a later reply of the same sender to the same form replaced this set (docs/review.md, several agents)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("change_set.id"), index=True)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the agent was told the decision
    notice_outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id"))
    kind: Mapped[str] = mapped_column(String(12), default="changes", server_default="changes")
    answers_id: Mapped[int | None] = mapped_column(ForeignKey("change_set.id"), index=True)  # the set a message follows up

    changes: Mapped[list[Change]] = relationship(
        back_populates="changeset", order_by="Change.id", cascade="all, delete-orphan"
    )


class Change(Base):
    __tablename__ = "change"
    # competing changes: the same record of the same collectivité asked for by two pending sets
    __table_args__ = (Index("ix_change_entity_ref", "entity", "ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changeset_id: Mapped[int] = mapped_column(ForeignKey("change_set.id", ondelete="CASCADE"), index=True)
    op: Mapped[str] = mapped_column(String(8))
    entity: Mapped[str] = mapped_column(String(12))
    ref: Mapped[str] = mapped_column(String(40))  # record reference, or NOUVEAU-…#n for a created record
    parent_ref: Mapped[str | None] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(40))
    old: Mapped[object | None] = mapped_column(JSON)
    new: Mapped[object | None] = mapped_column(JSON)
    base_version: Mapped[int | None] = mapped_column(Integer)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    matches: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    edited_by: Mapped[str | None] = mapped_column(String(100))
    current: Mapped[object | None] = mapped_column(JSON)  # the store's value when a conflict was found
    asked: Mapped[object | None] = mapped_column(JSON)  # the agent's value, kept when a reviewer edits `new`
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_ref: Mapped[str | None] = mapped_column(String(40))  # the record a create produced

    changeset: Mapped[ChangeSet] = relationship(back_populates="changes")


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    changeset_id: Mapped[int] = mapped_column(ForeignKey("change_set.id"), index=True)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("change.id"))
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(String(250))
    op: Mapped[str | None] = mapped_column(String(8))
    entity: Mapped[str] = mapped_column(String(12))
    ref: Mapped[str] = mapped_column(String(40))
    field: Mapped[str | None] = mapped_column(String(40))
    old: Mapped[object | None] = mapped_column(JSON)
    new: Mapped[object | None] = mapped_column(JSON)
