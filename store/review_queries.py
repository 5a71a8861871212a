"""Read access to change sets, as the review queue shows them (oldest first)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from store.models import Collectivite
from store.review_models import ChangeSet


def changeset_data(changeset: ChangeSet, collectivite_code: str) -> dict:
    return {
        "id": changeset.id,
        "collectivite": collectivite_code,
        "status": changeset.status,
        "sender": changeset.sender,
        "trusted": changeset.trusted,
        "created_at": changeset.created_at.isoformat(),
        "note": changeset.note,
        "changes": [
            {"id": c.id, "op": c.op, "entity": c.entity, "ref": c.ref, "field": c.field, "old": c.old,
             "new": c.new, "errors": c.errors, "matches": c.matches, "parent_ref": c.parent_ref,
             "base_version": c.base_version, "status": c.status}
            for c in changeset.changes
        ],
    }


def list_changesets(session: Session, *, status: str | None = "pending", limit: int = 50, offset: int = 0) -> list[dict]:
    query = (
        select(ChangeSet, Collectivite.code)
        .join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
        .options(selectinload(ChangeSet.changes))
        .order_by(ChangeSet.created_at, ChangeSet.id)
        .limit(limit).offset(offset)
    )
    if status:
        query = query.where(ChangeSet.status == status)
    return [changeset_data(cs, code) for cs, code in session.execute(query)]


def get_changeset(session: Session, changeset_id: int) -> dict | None:
    row = session.execute(
        select(ChangeSet, Collectivite.code).join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
        .options(selectinload(ChangeSet.changes)).where(ChangeSet.id == changeset_id)
    ).first()
    return changeset_data(*row) if row else None
