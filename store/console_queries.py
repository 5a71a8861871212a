"""Reads and small writes of the reviewers' web console: the queue with search, sort and totals,
claims on change sets, reviewers' accounts and sessions, and the campaign's review figures.

The queue costs the same on the first page of a hundred thousand sets as on ten: ids first (one
indexed scan), then only the page's sets and their changes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import String, and_, cast, delete, exists, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from store.conversation_models import InboundAttachment
from store.models import Collectivite
from store.review_models import Change, ChangeSet
from store.review_queries import QueueFilter, changeset_data, filtered
from store.reviewer_models import Reviewer, ReviewClaim, ReviewerSession, SignInAttempt, SignInLink

PAGE_SIZE = 100

# sort key → ORDER BY, each ending on the id so pages never overlap
SORTS = {
    "anciens": (ChangeSet.created_at, ChangeSet.id),
    "recents": (ChangeSet.created_at.desc(), ChangeSet.id.desc()),
    "collectivite": (Collectivite.name, ChangeSet.id),
    "departement": (Collectivite.departement, Collectivite.name, ChangeSet.id),
}


@dataclass(frozen=True)
class QueueQuery:
    """The queue as a reviewer narrows it: the CLI's filter plus search, competing sets, sort, page."""

    where: QueueFilter = field(default_factory=QueueFilter)
    search: str = ""
    attachments: bool | None = None  # the set's message came with files
    sort: str = "anciens"
    page: int = 1

    def for_page(self, page: int) -> QueueQuery:
        return replace(self, page=page)


@dataclass(frozen=True)
class QueueRow:
    id: int
    created_at: datetime
    code: str
    name: str
    kind: str
    departement: str | None
    region: str | None
    sender: str
    trusted: bool
    status: str
    changes: int
    errors: int
    conflicts: int
    entities: tuple[str, ...]
    claimed_by: str | None


def _attachments_clause():
    return exists().where(InboundAttachment.inbound_id == ChangeSet.inbound_id)


def _search_clause(term: str, dialect: str):
    """Collectivité name, code or SIREN, sender, or any value asked or seen (JSON text, also with the
    \\u escapes SQLite keeps for accents). SQLite's LIKE already ignores ASCII case: no lower() per row."""
    def contains(column, text: str):
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return column.like(pattern, escape="\\") if dialect == "sqlite" else column.ilike(pattern, escape="\\")

    variants = {term, json.dumps(term)[1:-1]}
    values = func.coalesce(cast(Change.new, String), "") + " " + func.coalesce(cast(Change.old, String), "")
    return or_(
        contains(Collectivite.name, term),
        Collectivite.code == term.upper(),
        Collectivite.siren == term,
        contains(ChangeSet.sender, term),
        ChangeSet.id.in_(select(Change.changeset_id).where(or_(*(contains(values, v) for v in variants)))),
    )


def _needs_collectivite(q: QueueQuery) -> bool:
    w = q.where
    return bool(w.region or w.departement or w.kind or w.collectivite or q.search.strip()
                or q.sort in ("collectivite", "departement"))


def _queue_select(q: QueueQuery, *columns, dialect: str = "sqlite"):
    query = select(*columns).select_from(ChangeSet)
    if _needs_collectivite(q):  # counting a hundred thousand sets costs twice as much through the join
        query = query.join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
    query = filtered(query, q.where)
    if q.search.strip():
        query = query.where(_search_clause(q.search.strip()[:200], dialect))
    if q.attachments is not None:
        query = query.where(_attachments_clause() if q.attachments else ~_attachments_clause())
    return query


def queue_ids(session: Session, q: QueueQuery, *, limit: int | None = PAGE_SIZE) -> list[int]:
    query = _queue_select(q, ChangeSet.id, dialect=_dialect(session)).order_by(*SORTS.get(q.sort, SORTS["anciens"]))
    if limit is not None:
        query = query.offset((max(q.page, 1) - 1) * limit).limit(limit)
    return list(session.scalars(query))


def queue_total(session: Session, q: QueueQuery) -> int:
    return session.scalar(_queue_select(q, func.count(), dialect=_dialect(session))) or 0


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def queue_rows(session: Session, ids: list[int], now: datetime) -> list[QueueRow]:
    """The rows of the page `ids`, in that order, with who holds a live claim on each. Read as plain
    rows, not ORM objects: building and tracking a page of sets and changes cost more than the SQL."""
    if not ids:
        return []
    sets = session.execute(
        select(ChangeSet.id, ChangeSet.created_at, ChangeSet.sender, ChangeSet.trusted, ChangeSet.status,
               Collectivite.code, Collectivite.name, Collectivite.kind, Collectivite.departement, Collectivite.region)
        .join(Collectivite, ChangeSet.collectivite_id == Collectivite.id).where(ChangeSet.id.in_(ids))).all()
    changes: dict[int, list] = {}
    for row in session.execute(select(Change.changeset_id, Change.entity, Change.status, Change.errors)
                               .where(Change.changeset_id.in_(ids))):
        changes.setdefault(row.changeset_id, []).append(row)
    claims = live_claims(session, ids, now)
    by_id = {r.id: _row(r, changes.get(r.id, []), claims.get(r.id)) for r in sets}
    return [by_id[i] for i in ids if i in by_id]


def _row(r, changes: list, claimed_by: str | None) -> QueueRow:
    return QueueRow(
        id=r.id, created_at=r.created_at, code=r.code, name=r.name, kind=r.kind, departement=r.departement,
        region=r.region, sender=r.sender, trusted=r.trusted, status=r.status, changes=len(changes),
        errors=sum(1 for c in changes if c.errors and c.status == "pending"),
        conflicts=sum(1 for c in changes if c.status == "conflict"),
        entities=tuple(sorted({c.entity for c in changes})), claimed_by=claimed_by)


def changeset_dicts(session: Session, ids: list[int]) -> list[dict]:
    """The sets `ids` as `changeset_data` gives them (with their changes), in that order."""
    if not ids:
        return []
    rows = session.execute(select(ChangeSet, Collectivite).join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
                           .options(selectinload(ChangeSet.changes)).where(ChangeSet.id.in_(ids)))
    by_id = {cs.id: changeset_data(cs, coll) for cs, coll in rows}
    return [by_id[i] for i in ids if i in by_id]


def next_id(session: Session, q: QueueQuery, after: int) -> int | None:
    """The set after `after` in the queue's order (the `n` key), or the first when it left the queue."""
    current = session.scalar(select(ChangeSet.created_at).where(ChangeSet.id == after))
    if q.sort in ("anciens", "recents") and current is not None:
        # keyset: one indexed step, whatever the length of the queue
        later = tuple_(ChangeSet.created_at, ChangeSet.id) > tuple_(current, after) if q.sort == "anciens" \
            else tuple_(ChangeSet.created_at, ChangeSet.id) < tuple_(current, after)
        found = session.scalar(_queue_select(q, ChangeSet.id, dialect=_dialect(session)).where(later).order_by(*SORTS[q.sort]).limit(1))
        return found
    ids = queue_ids(session, replace(q, page=1), limit=None)
    if after in ids:
        index = ids.index(after)
        rest = ids[index + 1:]
        return rest[0] if rest else None
    return ids[0] if ids else None


def competing_sets(session: Session, changeset_id: int, collectivite_id: int) -> list[ChangeSet]:
    """The other pending sets of the same collectivité, with their changes (oldest first)."""
    return list(session.scalars(
        select(ChangeSet).where(ChangeSet.collectivite_id == collectivite_id, ChangeSet.id != changeset_id,
                                ChangeSet.status == "pending")
        .options(selectinload(ChangeSet.changes)).order_by(ChangeSet.created_at, ChangeSet.id).limit(20)))


def refresh_statistics(engine) -> None:
    """SQLite plans a filtered queue well only with statistics (without them it walks the whole queue in
    date order to find one région's sets, and sampled ones mislead it the same way): gather them, once
    when the console starts (under a second for a hundred thousand sets). PostgreSQL's autovacuum keeps
    its own."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


# --- claims ----------------------------------------------------------------------------------------------

def live_claims(session: Session, ids: list[int], now: datetime) -> dict[int, str]:
    return dict(session.execute(select(ReviewClaim.changeset_id, ReviewClaim.reviewer)
                                .where(ReviewClaim.changeset_id.in_(ids), ReviewClaim.expires_at > now)).all())


def claim(session: Session, changeset_id: int, reviewer: str, now: datetime, *, minutes: int,
          take_over: bool = False) -> str:
    """Claim the set for `reviewer` until now + minutes, unless another reviewer holds a live claim and
    this is not an explicit take-over. Returns who holds the claim afterwards. Atomic on both backends:
    the row is inserted (the primary key lets one insert win) or updated under a condition."""
    until = now + timedelta(minutes=minutes)
    held = session.execute(select(ReviewClaim.reviewer, ReviewClaim.expires_at)
                           .where(ReviewClaim.changeset_id == changeset_id)).first()
    if held is not None and held.reviewer == reviewer and _aware(held.expires_at) > now + timedelta(minutes=minutes / 2):
        return reviewer  # still ours for a good while: no write (a write costs a commit to disk)
    if held is not None and held.reviewer != reviewer and _aware(held.expires_at) > now and not take_over:
        return held.reviewer
    try:
        with session.begin_nested():
            session.execute(insert(ReviewClaim).values(changeset_id=changeset_id, reviewer=reviewer,
                                                       claimed_at=now, expires_at=until))
        return reviewer
    except IntegrityError:
        pass
    condition = ReviewClaim.changeset_id == changeset_id
    if not take_over:
        condition = and_(condition, or_(ReviewClaim.reviewer == reviewer, ReviewClaim.expires_at <= now))
    taken = session.execute(update(ReviewClaim).where(condition).values(
        reviewer=reviewer, claimed_at=now, expires_at=until)).rowcount
    if taken:
        return reviewer
    return session.scalar(select(ReviewClaim.reviewer).where(ReviewClaim.changeset_id == changeset_id)) or reviewer


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time stored is UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def claim_holder(session: Session, changeset_id: int, now: datetime) -> tuple[str, datetime] | None:
    row = session.execute(select(ReviewClaim.reviewer, ReviewClaim.claimed_at)
                          .where(ReviewClaim.changeset_id == changeset_id, ReviewClaim.expires_at > now)).first()
    return None if row is None else (row.reviewer, row.claimed_at)


def release(session: Session, changeset_id: int, reviewer: str) -> None:
    session.execute(delete(ReviewClaim).where(ReviewClaim.changeset_id == changeset_id,
                                              ReviewClaim.reviewer == reviewer))


# --- reviewers, sign-in links and sessions ---------------------------------------------------------------

def reviewer_by_email(session: Session, email: str) -> Reviewer | None:
    return session.scalar(select(Reviewer).where(Reviewer.email == email.strip().lower()))


def reviewer_by_name(session: Session, name: str) -> Reviewer | None:
    return session.scalar(select(Reviewer).where(Reviewer.name == name.strip()))


def reviewers(session: Session) -> list[Reviewer]:
    return list(session.scalars(select(Reviewer).order_by(Reviewer.name)))


def add_link(session: Session, reviewer_id: int, token_hash: str, now: datetime, minutes: int) -> None:
    session.add(SignInLink(reviewer_id=reviewer_id, token_hash=token_hash, created_at=now,
                           expires_at=now + timedelta(minutes=minutes)))


def use_link(session: Session, token_hash: str, now: datetime) -> Reviewer | None:
    """The active reviewer a valid link signs in, the link spent in the same statement (used once)."""
    spent = session.execute(update(SignInLink).where(
        SignInLink.token_hash == token_hash, SignInLink.used_at.is_(None), SignInLink.expires_at > now)
        .values(used_at=now)).rowcount
    if not spent:
        return None
    reviewer = session.scalar(select(Reviewer).join(SignInLink, SignInLink.reviewer_id == Reviewer.id)
                              .where(SignInLink.token_hash == token_hash))
    return reviewer if reviewer is not None and reviewer.active else None


def link_usable(session: Session, token_hash: str, now: datetime) -> bool:
    return session.scalar(select(func.count()).select_from(SignInLink).where(
        SignInLink.token_hash == token_hash, SignInLink.used_at.is_(None), SignInLink.expires_at > now)) > 0


def open_session(session: Session, reviewer_id: int, key_hash: str, now: datetime, hours: int) -> None:
    session.add(ReviewerSession(reviewer_id=reviewer_id, key_hash=key_hash, created_at=now,
                                expires_at=now + timedelta(hours=hours)))


def session_reviewer(session: Session, key_hash: str, now: datetime) -> Reviewer | None:
    """The reviewer of a live session, active or not (the caller refuses a disabled one)."""
    return session.scalar(select(Reviewer).join(ReviewerSession, ReviewerSession.reviewer_id == Reviewer.id)
                          .where(ReviewerSession.key_hash == key_hash, ReviewerSession.ended_at.is_(None),
                                 ReviewerSession.expires_at > now))


def end_session(session: Session, key_hash: str, now: datetime) -> None:
    session.execute(update(ReviewerSession).where(ReviewerSession.key_hash == key_hash).values(ended_at=now))


def count_attempts(session: Session, keys: list[str], since: datetime) -> int:
    """The most sign-in requests any one of `keys` made since `since`."""
    rows = session.execute(select(SignInAttempt.key, func.count()).where(
        SignInAttempt.key.in_(keys), SignInAttempt.at > since).group_by(SignInAttempt.key)).all()
    return max((n for _, n in rows), default=0)


def record_attempt(session: Session, keys: list[str], now: datetime) -> None:
    session.execute(insert(SignInAttempt), [{"key": k, "at": now} for k in keys])
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < now - timedelta(days=1)))


# --- figures for the campaign page -----------------------------------------------------------------------

def oldest_waiting(session: Session, campaign_id: int | None, limit: int = 10) -> list[tuple]:
    query = (select(ChangeSet.id, ChangeSet.created_at, Collectivite.name, Collectivite.code)
             .join(Collectivite, ChangeSet.collectivite_id == Collectivite.id).where(ChangeSet.status == "pending"))
    if campaign_id is not None:
        query = query.where(ChangeSet.campaign_id == campaign_id)
    return list(session.execute(query.order_by(ChangeSet.created_at, ChangeSet.id).limit(limit)))


def decided_per_reviewer_day(session: Session, since: datetime, campaign_id: int | None) -> list[tuple]:
    """(reviewer, day, sets decided, changes applied) from the changes each reviewer decided."""
    day = func.date(Change.decided_at)
    query = (select(Change.decided_by, day, func.count(func.distinct(Change.changeset_id)),
                    func.count().filter(Change.status == "applied"))
             .join(ChangeSet, Change.changeset_id == ChangeSet.id)
             .where(Change.decided_at >= since, Change.decided_by.is_not(None)))
    if campaign_id is not None:
        query = query.where(ChangeSet.campaign_id == campaign_id)
    return list(session.execute(query.group_by(Change.decided_by, day).order_by(day, Change.decided_by)))
