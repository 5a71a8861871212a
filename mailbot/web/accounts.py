"""Reviewers' accounts and how they sign in to the console.

Choice: a one-time sign-in link mailed to the reviewer's address through the outbox (the product
already sends mail), rather than passwords: nothing to hash, leak, forget or reset, and the
ministry's mailbox stays the one credential. A link works once, for LINK_MINUTES; requests are
rate-limited per address and per client; the answer is the same whether or not the address is a
reviewer's. The store keeps only SHA-256 hashes of link tokens and session keys.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.outbound.delivery import deliver_pending
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id
from mailbot.outbound.render import build_message, make_environment
from mailbot.web.security import digest, new_token
from store import console_queries as q
from store.reviewer_models import Reviewer

LINK_MINUTES = 15
LIMIT_WINDOW = timedelta(minutes=15)
LIMIT_PER_ADDRESS = 5
LIMIT_PER_CLIENT = 20


class AccountError(ValueError):
    """A refused account operation; the message (French) is shown as is."""


@dataclass(frozen=True)
class ReviewerInfo:
    id: int
    name: str
    email: str
    active: bool


def info(reviewer: Reviewer) -> ReviewerInfo:
    return ReviewerInfo(reviewer.id, reviewer.name, reviewer.email, reviewer.active)


# --- managed by command ----------------------------------------------------------------------------------

def add_reviewer(sessions, name: str, email: str) -> ReviewerInfo:
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise AccountError("donnez le nom du relecteur (100 caractères au plus)")
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"adresse invalide : {email} ({exc})") from None
    try:
        with sessions.begin() as session:
            reviewer = Reviewer(name=name, email=address, active=True, created_at=utcnow())
            session.add(reviewer)
            session.flush()
            return info(reviewer)
    except IntegrityError:
        raise AccountError(f"un relecteur porte déjà ce nom ou cette adresse ({name}, {address})") from None


def list_reviewers(sessions) -> list[ReviewerInfo]:
    with sessions() as session:
        return [info(r) for r in q.reviewers(session)]


def disable_reviewer(sessions, name: str) -> ReviewerInfo:
    """Disabled at once: the console refuses the reviewer's open sessions on their next request."""
    with sessions.begin() as session:
        reviewer = q.reviewer_by_name(session, name)
        if reviewer is None:
            raise AccountError(f"aucun relecteur nommé {name}")
        reviewer.active, reviewer.disabled_at = False, utcnow()
        return info(reviewer)


# --- sign-in links ---------------------------------------------------------------------------------------

def link_url(config: Config, token: str) -> str:
    return f"{config.web_base_url}/connexion/lien/{token}"


def new_link(session: Session, config: Config, reviewer: Reviewer) -> str:
    token = new_token()
    q.add_link(session, reviewer.id, digest(token), utcnow(), LINK_MINUTES)
    return link_url(config, token)


def printed_link(sessions, config: Config, name: str) -> str:
    """A sign-in link for the operator to hand over (the demo, a first sign-in without mail)."""
    with sessions.begin() as session:
        reviewer = q.reviewer_by_name(session, name)
        if reviewer is None or not reviewer.active:
            raise AccountError(f"aucun relecteur actif nommé {name}")
        return new_link(session, config, reviewer)


def request_link(sessions, engine, config: Config, email: str, client: str) -> tuple[bool, int | None]:
    """Mail a sign-in link to `email` if it is an active reviewer's. Returns (allowed by the rate limit,
    the queued message's id or None). The caller answers the same either way."""
    now = utcnow()
    address = email.strip().lower()[:254]
    keys = [f"email:{address}", f"client:{client}"]
    with sessions.begin() as session:
        counts = q.count_attempts(session, keys[:1], now - LIMIT_WINDOW), \
            q.count_attempts(session, keys[1:], now - LIMIT_WINDOW)
        if counts[0] >= LIMIT_PER_ADDRESS or counts[1] >= LIMIT_PER_CLIENT:
            return False, None
        q.record_attempt(session, keys, now)
        reviewer = q.reviewer_by_email(session, address)
        if reviewer is None or not reviewer.active:
            return True, None
        link = new_link(session, config, reviewer)
        message = build_message(
            make_environment(), "reviewer_signin", {"name": reviewer.name, "link": link, "minutes": LINK_MINUTES},
            from_address=config.from_address, to=[reviewer.email], message_id=new_message_id(config.from_address),
            auto_submitted="auto-generated")
        outbound = enqueue(session, message, [Recipient(reviewer.email, None)], kind="signin")
        return True, outbound.id


def deliver(engine, config: Config, outbound_ids: list[int]) -> None:
    """Send queued messages now (a sign-in link, decision notices); `mailbot serve` retries what fails."""
    if outbound_ids:
        deliver_pending(engine, config, only_outbound=set(outbound_ids), connections=1)


def link_usable(sessions, token: str) -> bool:
    with sessions() as session:
        return q.link_usable(session, digest(token), utcnow())


def sign_in(sessions, config: Config, token: str) -> tuple[ReviewerInfo, str] | None:
    """Spend a link and open a session: (the reviewer, the session key for the cookie), or None."""
    with sessions.begin() as session:
        reviewer = q.use_link(session, digest(token), utcnow())
        if reviewer is None:
            return None
        key = new_token()
        q.open_session(session, reviewer.id, digest(key), utcnow(), int(config.web_session_hours))
        return info(reviewer), key


def session_reviewer(sessions, key: str) -> ReviewerInfo | None:
    with sessions() as session:
        reviewer = q.session_reviewer(session, digest(key), utcnow())
        return info(reviewer) if reviewer is not None else None


def sign_out(sessions, key: str) -> None:
    with sessions.begin() as session:
        q.end_session(session, digest(key), utcnow())
