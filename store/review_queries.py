"""Read access to change sets, as the review queue shows them (oldest first); which pending changes
compete for the same record; and the one write of the queue itself, superseding a sender's earlier set.

Several agents (docs/review.md): sets from different senders never replace each other. Two pending
sets that change the same field of the same record (or one deletes or moves a record the other
changes) are *competing*: reviewers see both and choose. A later reply of the same sender to the
same form supersedes that sender's earlier pending set, which stays reachable (`superseded_by`).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from store.conversation_models import InboundAttachment, ReviewerReply
from store.inbound_models import InboundMessage
from store.models import Collectivite
from store.review_models import Change, ChangeSet

# references the form invents for records that do not exist yet: two of them are two new records
NEW_RECORD_PREFIXES = ("NOUVEAU", "NOUVELLE")
WHOLE_RECORD_OPS = ("delete", "move")  # compete with any change to the record


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
    set_kind: str | None = None  # changes | message (an agent's message to read)
    competing: bool | None = None  # sets with a pending change another pending set competes with


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
        "set_kind": changeset.kind,
        "answers": changeset.answers_id,
        "superseded_by": changeset.superseded_by_id,
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
        (f.set_kind, lambda v: ChangeSet.kind == v),
        (f.competing, lambda v: _has_competitor() if v else ~_has_competitor()),
    ]
    for value, condition in conditions:
        if value is not None:
            query = query.where(condition(value))
    return query


def filtered(query, where: QueueFilter):
    """`query` narrowed by `where` (the query must join Collectivite): shared with the web console."""
    return _filtered(query, where)


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
        .order_by(ChangeSet.created_at, ChangeSet.id)).all()
    return _with_links(session, [changeset_data(cs, coll) for cs, coll in rows], [cs for cs, _ in rows])


def changeset_ids(session: Session, where: QueueFilter, *, limit: int | None = None, offset: int = 0) -> list[int]:
    """The ids of the sets `where` selects, oldest first."""
    query = _filtered(select(ChangeSet.id).join(Collectivite, ChangeSet.collectivite_id == Collectivite.id), where)
    query = query.order_by(ChangeSet.created_at, ChangeSet.id).offset(offset)
    return list(session.scalars(query.limit(limit) if limit else query))


def get_changeset(session: Session, changeset_id: int) -> dict | None:
    """One set, with what a reviewer needs around it: the files of its message and the reviewers'
    answers to it."""
    row = session.execute(
        select(ChangeSet, Collectivite).join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
        .options(selectinload(ChangeSet.changes)).where(ChangeSet.id == changeset_id)
    ).first()
    if not row:
        return None
    data = _with_links(session, [changeset_data(*row)], [row[0]])[0]
    data["attachments"] = attachments_data(session, row[0].inbound_id)
    data["authentication"] = authentication_of(session, row[0].inbound_id)
    data["not_understood"] = not_understood(session, row[0].inbound_id, row[0].collectivite_id)
    data["replies"] = [
        {"id": r.id, "reviewer": r.reviewer, "text": r.text, "created_at": r.created_at.isoformat(),
         "outbound_id": r.outbound_id}
        for r in session.scalars(select(ReviewerReply).where(ReviewerReply.changeset_id == changeset_id)
                                 .order_by(ReviewerReply.id))]
    return data


def attachments_data(session: Session, inbound_id: int | None) -> list[dict]:
    """The files of one inbound message, without their bytes."""
    if inbound_id is None:
        return []
    rows = session.execute(
        select(InboundAttachment.id, InboundAttachment.position, InboundAttachment.filename,
               InboundAttachment.content_type, InboundAttachment.detected_type, InboundAttachment.category,
               InboundAttachment.size, InboundAttachment.sha256, InboundAttachment.data.is_not(None).label("kept"),
               InboundAttachment.dangerous, InboundAttachment.danger)
        .where(InboundAttachment.inbound_id == inbound_id).order_by(InboundAttachment.position))
    return [dict(r._mapping) for r in rows]


def not_understood(session: Session, inbound_id: int | None, collectivite_id: int) -> list[str]:
    """What the reader reported and did not turn into changes (a block pasted from another
    collectivité's form, a block without its code, a form it could not tie), as the agent was told:
    the problems of this collectivité's form, then those of forms tied to no one."""
    if inbound_id is None:
        return []
    details = session.scalar(select(InboundMessage.details).where(InboundMessage.id == inbound_id)) or {}
    problems = [p for entry in details.get("understood") or [] if entry.get("collectivite_id") == collectivite_id
                for p in entry.get("problems") or []]
    problems += [p if isinstance(p, str) else str(p.get("message", p)) for p in details.get("unread_forms") or []]
    return problems


UNKNOWN_AUTHENTICATION = "authentification inconnue"


def authentication_of(session: Session, inbound_id: int | None) -> dict | None:
    """What the mail servers found of the message's sender (mailbot.inbound.authenticate), for
    reviewers; None for a set that came from no message (a revert)."""
    if inbound_id is None:
        return None
    details = session.scalar(select(InboundMessage.details).where(InboundMessage.id == inbound_id)) or {}
    found = details.get("authentication") or {}
    return {"result": found.get("result", "unknown"), "label": found.get("label", UNKNOWN_AUTHENTICATION),
            "detail": found.get("detail", "")}


def _with_links(session: Session, rows: list[dict], changesets: list[ChangeSet]) -> list[dict]:
    """Each set's data with what links it to others: the sets it superseded, and for each change the
    pending changes of other sets that compete with it."""
    rivals = competitors(session, changesets)
    replaced: dict[int, list[int]] = defaultdict(list)
    for old, new in session.execute(select(ChangeSet.id, ChangeSet.superseded_by_id)
                                    .where(ChangeSet.superseded_by_id.in_([cs.id for cs in changesets]))
                                    .order_by(ChangeSet.id)):
        replaced[new].append(old)
    for row in rows:
        row["supersedes"] = replaced.get(row["id"], [])
        for change in row["changes"]:
            change["competing"] = [_rival_data(r) for r in rivals.get(change["id"], [])]
        row["competing"] = sorted({r["changeset"] for c in row["changes"] for r in c["competing"]})
    return rows


def _rival_data(rival: Rival) -> dict:
    return {"changeset": rival.changeset_id, "change": rival.change_id, "sender": rival.sender,
            "trusted": rival.trusted, "created_at": rival.created_at.isoformat(), "op": rival.op,
            "field": rival.field, "new": rival.new}


# --- several agents: competing changes, superseded sets ----------------------------------------------------

def is_new_record(ref: str | None) -> bool:
    return not ref or ref.startswith(NEW_RECORD_PREFIXES)


def compete(a: Change, b: Change) -> bool:
    """Two changes ask for the same thing of one existing record (pure: the caller matched the
    collectivité, the entity and the reference)."""
    return a.field == b.field or a.op in WHOLE_RECORD_OPS or b.op in WHOLE_RECORD_OPS


class Rival(NamedTuple):
    """A pending change of another pending set that competes with one of ours (plain data: a queue
    page reads them for every change it shows)."""

    change_id: int
    changeset_id: int
    sender: str
    trusted: bool
    created_at: datetime
    op: str
    field: str | None
    new: object


def competitors(session: Session, changesets: list[ChangeSet]) -> dict[int, list[Rival]]:
    """change id → the pending changes of *other* pending sets of the same collectivité that compete
    with it, oldest set first, for every pending change of `changesets`."""
    return rivals_of(session, [(cs, c) for cs in changesets for c in cs.changes if c.status == "pending"])


def rivals_of(session: Session, changes: list[tuple[ChangeSet, Change]], *, lock: bool = False
              ) -> dict[int, list[Rival]]:
    """`competitors` for the given (set, change) pairs, whatever their state. With `lock`, the other
    sets are locked too, those already locked by someone being skipped (PostgreSQL's SKIP LOCKED: the
    reviewer deciding them will find the record changed, through the version check)."""
    mine = [(cs, c) for cs, c in changes if not is_new_record(c.ref)]
    if not mine:
        return {}
    pairs = {(cs.collectivite_id, c.entity, c.ref) for cs, c in mine}
    # by reference through the (entity, ref) index, then matched to the collectivité here: a
    # reference is one record, so other collectivités rarely come back
    query = (select(Change.id, Change.changeset_id, ChangeSet.sender, ChangeSet.trusted, ChangeSet.created_at,
                    Change.op, Change.field, Change.new, ChangeSet.collectivite_id, Change.entity, Change.ref)
             .join(ChangeSet, Change.changeset_id == ChangeSet.id)
             .where(Change.entity.in_(sorted({e for _, e, _ in pairs})), Change.ref.in_(sorted({r for _, _, r in pairs})),
                    ChangeSet.status == "pending", Change.status == "pending")
             .order_by(ChangeSet.created_at, ChangeSet.id, Change.id))
    if lock:
        query = query.with_for_update(of=ChangeSet.__table__, skip_locked=True)
    by_record = defaultdict(list)
    for row in session.execute(query):
        if (row.collectivite_id, row.entity, row.ref) in pairs:
            by_record[(row.collectivite_id, row.entity, row.ref)].append(row)
    result: dict[int, list[Rival]] = {}
    for cs, change in mine:
        rivals = [Rival(*row[:8]) for row in by_record.get((cs.collectivite_id, change.entity, change.ref), [])
                  if row.changeset_id != cs.id and compete(change, row)]
        if rivals:
            result[change.id] = rivals
    return result


def _has_competitor():
    """SQL: the set (ChangeSet of the enclosing query) has a pending change that competes (see
    `compete`) with a pending change of another pending set of its collectivité."""
    mine, other, other_set = aliased(Change), aliased(Change), aliased(ChangeSet)
    same_thing = or_(other.field == mine.field, mine.op.in_(WHOLE_RECORD_OPS), other.op.in_(WHOLE_RECORD_OPS))
    return exists(
        select(mine.id)
        .join(other, and_(other.entity == mine.entity, other.ref == mine.ref, other.changeset_id != mine.changeset_id))
        .join(other_set, other_set.id == other.changeset_id)
        .where(mine.changeset_id == ChangeSet.id, mine.status == "pending", other.status == "pending",
               other_set.status == "pending", other_set.collectivite_id == ChangeSet.collectivite_id,
               *(~mine.ref.startswith(prefix) for prefix in NEW_RECORD_PREFIXES), same_thing))


def supersede_earlier(session: Session, changeset: ChangeSet, now: datetime) -> list[int]:
    """A later reply of the same sender to the same form (`thread_key`) replaces that sender's earlier
    pending set, and only it; a set a reviewer has begun to decide is kept. One conditional UPDATE:
    racing an approval of the earlier set, exactly one of the two wins (the approval locks the set's
    row and re-reads its status; this statement changes only a row still pending). Returns the ids
    superseded. `changeset` is the new one, already flushed."""
    begun = exists(select(Change.id).where(Change.changeset_id == ChangeSet.id, Change.status != "pending"))
    earlier = (ChangeSet.thread_key == changeset.thread_key, ChangeSet.status == "pending",
               ChangeSet.id != changeset.id, func.lower(ChangeSet.sender) == (changeset.sender or "").lower(), ~begun)
    result = session.execute(
        update(ChangeSet).where(*earlier)
        .values(status="superseded", superseded_by_id=changeset.id, decided_at=now,
                reason=f"remplacé par l'ensemble n° {changeset.id}, réponse plus récente du même expéditeur")
        .returning(ChangeSet.id).execution_options(synchronize_session=False))
    return sorted(result.scalars())


def raw_message(session: Session, changeset_id: int) -> bytes | None:

    return session.scalar(select(InboundMessage.raw).join(ChangeSet, ChangeSet.inbound_id == InboundMessage.id)
                          .where(ChangeSet.id == changeset_id))
