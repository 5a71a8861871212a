"""An agent's message in one of our threads: a message for a reviewer to read.

A reply to one of our messages that is not a form (an acknowledgement, a decision notice, a reviewer's
answer…) is tied to its collectivité by its thread headers (`mailbot.inbound.tie.find_thread`: our
stored Message-IDs, which nobody but the recipients has seen), with or without a form token. It
becomes a change set of kind `message` — no change, the agent's words and files for a reviewer to
read — linked to the set it follows up (`answers_id`), and the agent is told it was passed on. A known
contact of the collectivité is trusted as its voice; anyone else's message is kept the same way,
flagged. Reviewers answer it with `mailbot.review.reply`.
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.inbound.classify import Classification
from mailbot.inbound.tie import UNRECOGNISED_SENDER, known_contact_id
from mailbot.replies.answer import answer, note
from mailbot.replies.documents import attachment_lines, attachments_of, max_attachment_bytes
from store.campaign_models import CampaignTarget, OutboundMessage
from store.conversation_models import ReviewerReply
from store.inbound_models import InboundMessage
from store.models import Collectivite
from store.review_models import ChangeSet


# --- an agent's message in one of our threads -------------------------------------------------------------

def record_conversation(session: Session, config: Config, inbound: InboundMessage,
                        classification: Classification) -> None:
    """ROUTES["conversation"]: a message for a reviewer to read, and a short acknowledgement."""
    outbound = session.get(OutboundMessage, classification.details["thread_outbound_id"])
    collectivite = session.get(Collectivite, outbound.collectivite_id)
    inbound.collectivite_id, inbound.campaign_id = collectivite.id, outbound.campaign_id
    inbound.answered_outbound_id = outbound.id
    inbound.trusted = known_contact_id(session, inbound.sender, collectivite.id) is not None
    inbound.flag = None if inbound.trusted else UNRECOGNISED_SENDER
    words = classification.reading(inbound.raw).note  # read before the write transaction
    followed = followed_set(session, outbound)
    thread_key = f"message:{inbound.id}"
    session.execute(update(ChangeSet).where(ChangeSet.thread_key == thread_key, ChangeSet.status == "pending")
                    .values(status="superseded", decided_at=utcnow(), reason="message relu par `inbox reprocess`"))
    changeset = ChangeSet(
        kind="message", campaign_id=outbound.campaign_id, collectivite_id=collectivite.id, outbound_id=outbound.id,
        inbound_id=inbound.id, thread_key=thread_key, sender=(inbound.sender or "")[:254],
        trusted=bool(inbound.trusted), note=words or None, status="pending", has_errors=False,
        has_conflicts=False, created_at=utcnow(), answers_id=followed.id if followed is not None else None,
    )
    session.add(changeset)
    session.flush()
    _mark_replied(session, outbound.campaign_id, collectivite.id)
    note(inbound, "conversation", {"changeset": changeset.id, "thread_outbound": outbound.id,
                                   "answers": changeset.answers_id})
    rows = attachments_of(session, inbound.id)
    answer(session, config, inbound, template="agent_message_ack", answer_kind="ack", outbound_kind="ack", context={
        "collectivite": {"name": collectivite.name, "code": collectivite.code},
        "trusted": bool(inbound.trusted),
        "attachments": attachment_lines(rows, max_attachment_bytes(config)),
    })


def followed_set(session: Session, outbound: OutboundMessage) -> ChangeSet | None:
    """The change set our message was about: the one a decision notice told, the one a reviewer answered,
    or the one the acknowledged reply produced."""
    if outbound.kind == "decision":
        return session.scalar(select(ChangeSet).where(ChangeSet.notice_outbound_id == outbound.id).limit(1))
    if outbound.kind == "reviewer_reply":
        return session.scalar(select(ChangeSet).join(ReviewerReply, ReviewerReply.changeset_id == ChangeSet.id)
                              .where(ReviewerReply.outbound_id == outbound.id).limit(1))
    if outbound.kind == "ack":
        return session.scalar(
            select(ChangeSet).join(InboundMessage, InboundMessage.id == ChangeSet.inbound_id)
            .where(InboundMessage.response_outbound_id == outbound.id,
                   ChangeSet.collectivite_id == outbound.collectivite_id)
            .order_by(ChangeSet.id).limit(1))
    return None


def _mark_replied(session: Session, campaign_id: int | None, collectivite_id: int) -> None:
    if campaign_id is None:
        return
    target = session.scalar(select(CampaignTarget).where(CampaignTarget.campaign_id == campaign_id,
                                                         CampaignTarget.collectivite_id == collectivite_id))
    if target is not None and target.replied_at is None:
        target.replied_at = utcnow()
