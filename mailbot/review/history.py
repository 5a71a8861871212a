"""Reading the record of decisions: every change applied to a collectivité, oldest first."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.review.verdict import ReviewError
from store.queries import find_collectivite
from store.review_models import AuditEntry


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
