"""Read access to change sets, as the review queue shows them (oldest first)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from store.models import Collectivite
from store.review_models import ChangeSet
from store.inbound_models import InboundMessage


@dataclass(frozen=True)
class QueueFilter:
    """What a reviewer narrows the queue to; None means any."""

    status: str | None = "pending"
    region: str | None = None
    departement: str | None = None
    kind: str | None = None  # region | departement | commune | epci
    trusted: bool | None = None
    with_errors: bool | None = None
    with_conflicts: bool | None = None
    collectivite: str | None = None  # a code


def changeset_data(changeset: ChangeSet, collectivite: Collectivite | str) -> dict:
    code = collectivite if isinstance(collectivite, str) else collectivite.code
    data = {
        "id": changeset.id,
        "collectivite": code,
        "status": changeset.status,
        "sender": changeset.sender,
        "trusted": changeset.trusted,
        "created_at": changeset.created_at.isoformat(),
        "note": changeset.note,
        "has_errors": changeset.has_errors,
        "has_conflicts": changeset.has_conflicts,
        "decided_by": changeset.decided_by,
        "decided_at": changeset.decided_at.isoformat() if changeset.decided_at else None,
        "reason": changeset.reason,
        "reverts": changeset.reverts_id,
        "changes": [
            {"id": c.id, "op": c.op, "entity": c.entity, "ref": c.ref, "field": c.field, "old": c.old,
             "new": c.new, "errors": c.errors, "matches": c.matches, "parent_ref": c.parent_ref,
             "base_version": c.base_version, "status": c.status, "current": c.current, "asked": c.asked,
             "reason": c.reason, "edited_by": c.edited_by, "decided_by": c.decided_by,
             "applied_ref": c.applied_ref}
            for c in changeset.changes
        ],
    }
    if not isinstance(collectivite, str):
        data["collectivite_name"] = collectivite.name
        data["departement"] = collectivite.departement
        data["region"] = collectivite.region
        data["kind"] = collectivite.kind
    return data


def _filtered(query, f: QueueFilter):
    conditions = [
        (f.status, lambda v: ChangeSet.status == v),
        (f.region, lambda v: Collectivite.region == v),
        (f.departement, lambda v: Collectivite.departement == v),
        (f.kind, lambda v: Collectivite.kind == v),
        (f.trusted, lambda v: ChangeSet.trusted.is_(v)),
        (f.with_errors, lambda v: ChangeSet.has_errors.is_(v)),
        (f.with_conflicts, lambda v: ChangeSet.has_conflicts.is_(v)),
        (f.collectivite, lambda v: Collectivite.code == v.strip().upper()),
    ]
    for value, condition in conditions:
        if value is not None:
            query = query.where(condition(value))
    return query


def list_changesets(session: Session, *, status: str | None = "pending", limit: int = 50, offset: int = 0,
                    where: QueueFilter | None = None) -> list[dict]:
    # ids first (one indexed scan), then the page's sets and their changes: the page costs the same
    # whether the queue holds ten sets or a hundred thousand
    ids = changeset_ids(session, where or QueueFilter(status=status), limit=limit, offset=offset)
    if not ids:
        return []
    rows = session.execute(
        select(ChangeSet, Collectivite).join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
        .options(selectinload(ChangeSet.changes)).where(ChangeSet.id.in_(ids))
        .order_by(ChangeSet.created_at, ChangeSet.id))
    return [changeset_data(cs, coll) for cs, coll in rows]


def changeset_ids(session: Session, where: QueueFilter, *, limit: int | None = None, offset: int = 0) -> list[int]:
    """The ids of the sets `where` selects, oldest first."""
    query = _filtered(select(ChangeSet.id).join(Collectivite, ChangeSet.collectivite_id == Collectivite.id), where)
    query = query.order_by(ChangeSet.created_at, ChangeSet.id).offset(offset)
    return list(session.scalars(query.limit(limit) if limit else query))


def get_changeset(session: Session, changeset_id: int) -> dict | None:
    row = session.execute(
        select(ChangeSet, Collectivite).join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
        .options(selectinload(ChangeSet.changes)).where(ChangeSet.id == changeset_id)
    ).first()
    return changeset_data(*row) if row else None


def raw_message(session: Session, changeset_id: int) -> bytes | None:

    return session.scalar(select(InboundMessage.raw).join(ChangeSet, ChangeSet.inbound_id == InboundMessage.id)
                          .where(ChangeSet.id == changeset_id))
