"""The conversation around a collectivité's record: agents' messages in our threads, reviewers' answers,
and the whole exchange in order.

A reply to one of our messages that is not a form (an acknowledgement, a decision notice, a reviewer's
answer…) is tied to its collectivité by its thread headers (`pipeline.find_thread`: our stored
Message-IDs, which nobody but the recipients has seen), with or without a form token. It becomes a
change set of kind `message` — no change, the agent's words and files for a reviewer to read — linked
to the set it follows up (`answers_id`), and the agent is told it was passed on. A known contact of
the collectivité is trusted as its voice; anyone else's message is kept the same way, flagged.

A reviewer answers with `reply_to_agent` (`review reply`, and the web console): a French message from
the bot, signed by the reviewer, threaded on the agent's message, recorded in `reviewer_reply`; the
agent's next reply threads back here. `timeline` is the collectivité's history: messages in and out,
decisions and applied changes, oldest first.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.classify import Classification
from mailbot.clock import aware, utcnow
from mailbot.config import Config
from mailbot.documents import attachment_lines, attachments_of, max_attachment_bytes
from mailbot.outbox import Recipient, enqueue, new_message_id
from mailbot.parse import parse_reply
from mailbot.pipeline import UNRECOGNISED_SENDER, answer, known_contact_id, note, thread_headers
from mailbot.render import build_message, make_environment
from mailbot.review import ReviewError, history, require_reviewer
from store.campaign_models import CampaignTarget, OutboundMessage
from store.conversation_models import InboundAttachment, ReviewerReply
from store.inbound_models import InboundMessage
from store.models import Collectivite
from store.queries import find_collectivite
from store.review_models import ChangeSet

MAX_REPLY_CHARS = 20_000
# What each of our messages is called when a reviewer reads the history.
OUTBOUND_LABELS = {
    "summary": "fiche et formulaire", "reminder": "relance", "ack": "accusé de réception",
    "explanation": "explication", "help": "aide", "decision": "décision", "question": "question",
    "reviewer_reply": "réponse d'un relecteur", "circular": "circulaire", "report": "rapport", "digest": "synthèse",
}
INBOUND_LABELS = {
    "reply": "réponse au formulaire", "conversation": "message dans un fil", "invalid_token": "référence invalide",
    "unknown": "message sans référence", "command": "commande", "bounce": "rebond", "autoreply": "réponse automatique",
}
STATUS_LABELS = {
    "approved": "approuvé", "rejected": "rejeté", "partial": "approuvé en partie", "superseded": "remplacé",
    "answered": "répondu", "read": "lu", "confirmed": "confirmé",
}


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
    words = parse_reply(inbound.raw).note
    followed = followed_set(session, outbound)
    changeset = ChangeSet(
        kind="message", campaign_id=outbound.campaign_id, collectivite_id=collectivite.id, outbound_id=outbound.id,
        inbound_id=inbound.id, thread_key=f"message:{inbound.id}", sender=(inbound.sender or "")[:254],
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


# --- a reviewer's answer ------------------------------------------------------------------------------------

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
    reviewer = require_reviewer(config, reviewer)
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
        "received_on": aware(inbound.received_at).strftime("%d/%m/%Y"),
    }
    message = build_message(make_environment(), "agent_reviewer_reply", context, from_address=config.from_address,
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


# --- the history --------------------------------------------------------------------------------------------

def timeline(session: Session, code: str) -> list[dict]:
    """A collectivité's whole conversation, oldest first: messages in (`message_in`) and out
    (`message_out`, a reviewer's answer with its author and text), decisions on its change sets
    (`decision`) and the changes they applied (`change`, as `review.history` gives them)."""
    collectivite = find_collectivite(session, code)
    if collectivite is None:
        raise ReviewError(f"collectivité inconnue : {code}")
    entries = _messages_in(session, collectivite.id) + _messages_out(session, collectivite.id)
    entries += _decisions(session, collectivite.id)
    entries += [{"type": "change", **entry} for entry in history(session, collectivite.code)]
    order = {"message_in": 0, "decision": 1, "change": 2, "message_out": 3}
    return sorted(entries, key=lambda e: (e["at"], order[e["type"]]))


def _at(value) -> str:
    return aware(value).isoformat()


def _messages_in(session: Session, collectivite_id: int) -> list[dict]:
    rows = session.execute(
        select(InboundMessage.id, InboundMessage.received_at, InboundMessage.sender, InboundMessage.subject,
               InboundMessage.kind, InboundMessage.trusted)
        .where(InboundMessage.collectivite_id == collectivite_id, InboundMessage.kind != "duplicate")
        .order_by(InboundMessage.id)).all()
    ids = [r.id for r in rows]
    sets: dict[int, list] = {}
    files: dict[int, list] = {}
    if ids:
        for s in session.execute(select(ChangeSet.inbound_id, ChangeSet.id, ChangeSet.kind, ChangeSet.note)
                                 .where(ChangeSet.inbound_id.in_(ids), ChangeSet.collectivite_id == collectivite_id)
                                 .order_by(ChangeSet.id)):
            sets.setdefault(s.inbound_id, []).append(s)
        for f in session.execute(select(InboundAttachment.inbound_id, InboundAttachment.id, InboundAttachment.filename,
                                        InboundAttachment.dangerous)
                                 .where(InboundAttachment.inbound_id.in_(ids)).order_by(InboundAttachment.position)):
            files.setdefault(f.inbound_id, []).append(f)
    return [{
        "type": "message_in", "at": _at(r.received_at), "inbound": r.id, "from": r.sender, "subject": r.subject,
        "kind": r.kind, "trusted": r.trusted, "changesets": [s.id for s in sets.get(r.id, [])],
        "text": next((s.note for s in sets.get(r.id, []) if s.note), None),
        "attachments": [{"id": f.id, "name": f.filename, "dangerous": f.dangerous} for f in files.get(r.id, [])],
    } for r in rows]


def _messages_out(session: Session, collectivite_id: int) -> list[dict]:
    rows = session.execute(
        select(OutboundMessage.id, OutboundMessage.created_at, OutboundMessage.kind, OutboundMessage.subject,
               OutboundMessage.recipients, ReviewerReply.reviewer, ReviewerReply.text, ReviewerReply.changeset_id)
        .outerjoin(ReviewerReply, ReviewerReply.outbound_id == OutboundMessage.id)
        .where(OutboundMessage.collectivite_id == collectivite_id).order_by(OutboundMessage.id)).all()
    return [{"type": "message_out", "at": _at(r.created_at), "outbound": r.id, "kind": r.kind, "subject": r.subject,
             "to": list(r.recipients or []), "reviewer": r.reviewer, "text": r.text, "changeset": r.changeset_id}
            for r in rows]


def _decisions(session: Session, collectivite_id: int) -> list[dict]:
    rows = session.execute(
        select(ChangeSet.id, ChangeSet.decided_at, ChangeSet.status, ChangeSet.decided_by, ChangeSet.reason,
               ChangeSet.kind)
        .where(ChangeSet.collectivite_id == collectivite_id, ChangeSet.decided_at.is_not(None))
        .order_by(ChangeSet.id)).all()
    return [{"type": "decision", "at": _at(r.decided_at), "changeset": r.id, "status": r.status,
             "reviewer": r.decided_by, "reason": r.reason, "set_kind": r.kind} for r in rows]

