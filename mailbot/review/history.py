"""Reading the record: every change applied to a collectivité (`history`), and its whole conversation
(`timeline`): messages in and out, reviewers' answers, decisions and applied changes, oldest first."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.clock import aware
from mailbot.review.verdict import ReviewError
from store.campaign_models import OutboundMessage
from store.conversation_models import InboundAttachment, ReviewerReply
from store.inbound_models import InboundMessage
from store.queries import find_collectivite
from store.review_models import AuditEntry, ChangeSet

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


def history(session: Session, code: str) -> list[dict]:
    """Every applied change of one collectivité, oldest first."""
    collectivite = find_collectivite(session, code)
    if collectivite is None:
        raise ReviewError(f"collectivité inconnue : {code}")
    entries = session.scalars(select(AuditEntry).where(AuditEntry.collectivite_id == collectivite.id)
                              .order_by(AuditEntry.at, AuditEntry.id))
    return [{"id": e.id, "at": e.at.isoformat(), "reviewer": e.reviewer, "changeset": e.changeset_id,
             "change": e.change_id, "message_id": e.message_id, "op": e.op, "entity": e.entity, "ref": e.ref,
             "field": e.field, "old": e.old, "new": e.new} for e in entries]


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
