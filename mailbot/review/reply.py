"""A reviewer's answer to an agent: a French message from the bot, signed by the reviewer, threaded on
the agent's message (`review reply`, and the web console through `reply_to_agent`).

It goes through the outbox like any message, is recorded in `reviewer_reply` (the collectivité's
history shows it with its author), and the agent's next reply threads back as a new message to read
(`mailbot.replies.conversation`). It is a person's message, not an automatic answer: no daily limit,
no Auto-Submitted header.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailbot.clock import aware, utcnow
from mailbot.config import Config
from mailbot.inbound.tie import known_contact_id
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id
from mailbot.outbound.render import build_message, french_date, make_environment, sender_of
from mailbot.replies.answer import thread_headers
from mailbot.review.decide import require_reviewer
from mailbot.review.verdict import ReviewError
from store.conversation_models import ReviewerReply
from store.inbound_models import InboundMessage
from store.models import Collectivite
from store.review_models import ChangeSet

MAX_REPLY_CHARS = 20_000


@dataclass(frozen=True)
class ReplySent:
    outbound_id: int
    reply_id: int
    to: str
    changeset_status: str


def reply_to_agent(session: Session, config: Config, changeset_id: int, reviewer: str, text: str) -> ReplySent:
    """Queue a reviewer's message to the agent whose message made set `changeset_id`, threaded on it,
    and record it in the collectivité's history. A message set answered this way is closed
    (`answered`). Works in the caller's transaction; `ReviewError` (French) when it cannot be sent."""
    reviewer = require_reviewer(config, reviewer, session)
    text = "\n".join(line.rstrip() for line in (text or "").strip().splitlines())
    if not text:
        raise ReviewError("écrivez le message (--message) : l'agent le lira")
    if len(text) > MAX_REPLY_CHARS:
        raise ReviewError(f"message trop long ({len(text)} caractères, {MAX_REPLY_CHARS} au plus)")
    changeset = session.get(ChangeSet, changeset_id)
    if changeset is None:
        raise ReviewError(f"aucun ensemble de modifications n° {changeset_id}")
    inbound = session.get(InboundMessage, changeset.inbound_id) if changeset.inbound_id else None
    if inbound is None or not changeset.sender:
        raise ReviewError(f"l'ensemble n° {changeset_id} ne vient d'aucun message : personne à qui répondre")
    if _is_ours(config, changeset.sender):
        raise ReviewError("l'expéditeur de ce message est le robot lui-même : personne à qui répondre")
    collectivite = session.get(Collectivite, changeset.collectivite_id)
    in_reply_to, references = thread_headers(inbound)
    context = {
        "paragraphs": _paragraphs(text), "reviewer": reviewer, "original_subject": inbound.subject or "",
        "collectivite": {"name": collectivite.name, "code": collectivite.code},
        "received_on": french_date(aware(inbound.received_at).date()),
    }
    # written by a person: no Auto-Submitted (RFC 3834), but the same Date, From name and signature
    message = build_message(make_environment(config.templates_override), "agent_reviewer_reply", context,
                            sender=sender_of(config),
                            to=[changeset.sender], message_id=new_message_id(config.from_address),
                            in_reply_to=in_reply_to, references=references)
    contact_id = known_contact_id(session, changeset.sender, changeset.collectivite_id)
    outbound = enqueue(session, message, [Recipient(changeset.sender, contact_id)], kind="reviewer_reply",
                       campaign_id=changeset.campaign_id, collectivite_id=changeset.collectivite_id)
    reply = ReviewerReply(changeset_id=changeset.id, collectivite_id=changeset.collectivite_id,
                          outbound_id=outbound.id, reviewer=reviewer, text=text, created_at=utcnow())
    session.add(reply)
    if changeset.kind == "message" and changeset.status == "pending" and \
            not any(c.status in ("pending", "conflict") for c in changeset.changes):
        changeset.status, changeset.decided_at, changeset.decided_by = "answered", utcnow(), reviewer
    session.flush()
    return ReplySent(outbound.id, reply.id, changeset.sender, changeset.status)


def _paragraphs(text: str) -> list[list[str]]:
    """Paragraphs (blank-line separated) of lines, for the text and HTML parts alike."""
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def _is_ours(config: Config, address: str) -> bool:
    local, _, domain = address.lower().rpartition("@")
    our_local, _, our_domain = config.from_address.lower().rpartition("@")
    return domain == our_domain and (local == our_local or local.startswith(our_local + "+"))
