"""Reviewers' accounts and the web console's state: sign-in links, sessions, sign-in attempts, claims.

Reviewers sign in with a one-time link mailed to their address (no password to store, leak or
reset). Only hashes of the link's token and of the session id are kept, so a copy of the database
does not let anyone sign in. A claim says who is working on a change set, until when.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base


class Reviewer(Base):
    __tablename__ = "reviewer"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # what the audit trail records
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lowercased
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInLink(Base):
    __tablename__ = "sign_in_link"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewer.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token in the link
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    reviewer: Mapped[Reviewer] = relationship()


class ReviewerSession(Base):
    __tablename__ = "reviewer_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewer.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the id in the cookie
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # signed out

    reviewer: Mapped[Reviewer] = relationship()


class SignInAttempt(Base):
    """One request for a sign-in link, by address and by client: the rate limit counts these."""

    __tablename__ = "sign_in_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), index=True)  # "email:…" or "client:…"
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ReviewClaim(Base):
    """Who is working on a set, until when: one row per set, taken over explicitly."""

    __tablename__ = "review_claim"
    changeset_id: Mapped[int] = mapped_column(ForeignKey("change_set.id", ondelete="CASCADE"), primary_key=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
