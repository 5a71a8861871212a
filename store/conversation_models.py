"""The conversation around the forms: what agents attach to their messages, what reviewers write back.

An `InboundAttachment` is one file of one inbound message, kept with the message (its bytes up to
`max_attachment_bytes`; the message's raw bytes keep everything anyway). Its name and type come from
outside: they are stored as sent (bounded), sanitised when saved and escaped when shown. `dangerous`
says why reviewers must be careful (an executable, a script, a macro-enabled office file): the bot
never opens such a file, it only keeps it.

A `ReviewerReply` is a message a reviewer wrote to an agent about a change set (`review reply`), sent
threaded on the agent's message through the outbox; it belongs to the collectivité's history.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base

ATTACHMENT_CATEGORIES = ("document", "image", "spreadsheet", "other", "dangerous")


class InboundAttachment(Base):
    __tablename__ = "inbound_attachment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_message.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order in the message, from 1
    filename: Mapped[str] = mapped_column(String(255))  # as the sender named it (decoded, bounded), never a path
    content_type: Mapped[str] = mapped_column(String(100))  # as declared by the sender's client
    detected_type: Mapped[str | None] = mapped_column(String(100))  # from the content's first bytes
    category: Mapped[str] = mapped_column(String(12))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: larger than max_attachment_bytes
    danger: Mapped[str | None] = mapped_column(Text)  # why it is flagged (French), None when it is not
    dangerous: Mapped[bool] = mapped_column(Boolean, default=False)


class ReviewerReply(Base):
    __tablename__ = "reviewer_reply"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changeset_id: Mapped[int] = mapped_column(ForeignKey("change_set.id", ondelete="CASCADE"), index=True)
    collectivite_id: Mapped[int] = mapped_column(ForeignKey("collectivite.id"), index=True)
    outbound_id: Mapped[int] = mapped_column(ForeignKey("outbound_message.id"), unique=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
