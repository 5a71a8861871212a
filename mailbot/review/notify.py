"""Telling people about decisions: the agent learns what was approved or rejected (threaded on their
reply), reviewers get a daily digest of the queue.

Decisions only mark a set as decided; messages are written here afterwards, in batches, so a bulk
approval of thousands of sets is not slowed by building thousands of MIME messages inside its
transactions, and a decision is never lost because mail could not be built or sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from mailbot.replies.acknowledge import NEW_NAMES
from mailbot.outbound.form import SNAPSHOT_KEYS, describe
from mailbot.labels import ENTITY_NAMES, Labels, labels_for
from mailbot.clock import aware, utcnow
from mailbot.config import Config
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id
from mailbot.outbound.render import build_message, french_date, make_environment, sender_of
from mailbot.rules import Rules
from store.campaign_models import Campaign, Snapshot
from store.inbound_models import InboundMessage
from store.models import Collectivite
from store.review_models import Change, ChangeSet
from mailbot.inbound.tie import authentication
from mailbot.replies.answer import thread_headers
from mailbot.outbound.campaign import campaign_rules
from mailbot.outbound.summary import reference_lists

DECIDED = ("approved", "rejected", "partial")
BATCH = 200


@dataclass(frozen=True)
class Rejected:
    line: str
    reason: str


# --- pure: what the agent reads --------------------------------------------------------------------------

@dataclass(frozen=True)
class Names:
    """What the agent saw on the form, by reference: whose record (« Marie Dupont », « Dakar
    (Sénégal) ») and the year of each APD line."""

    records: dict[str, str] = field(default_factory=dict)
    apd_years: dict[str, int] = field(default_factory=dict)


def field_labels(rules: Rules | None) -> dict[tuple[str, str], str]:
    """(part, field key) → the form's label (the web console's decision lines)."""
    if rules is None:
        return {}
    return {(part, f.key): f.label for part, p in rules.parts.items() for f in p.fields}


def snapshot_names(snapshot: dict | None) -> Names:
    if not snapshot:
        return Names()
    records: dict[str, str] = {}
    for part, key in SNAPSHOT_KEYS.items():
        for record in snapshot.get(key, []):
            records[record["ref"]] = describe(part, record)
            for project in record.get("projects", []):
                records[project["ref"]] = describe("projet", project)
    years = {a["ref"]: int(a["year"]) for a in snapshot.get("apd", []) if a.get("ref")}
    return Names(records, years)


def decision_line(change: Change, labels: Labels, names: Names | None = None) -> str:
    """One change in a sentence, as the acknowledgement told it: the field's label, whose record
    (by name), values as labels; the values as asked, or as corrected."""
    names = names or Names()
    who = names.records.get(change.ref) or change.ref
    if change.op == "update":
        label = labels.field(change.entity, change.field)
        if change.entity == "apd":
            year = names.apd_years.get(change.ref) or (int(change.ref[4:]) if change.ref[4:].isdigit() else None)
            label, who = (f"APD {year}", "") if year else (label, who)
        value = lambda v: labels.value(change.entity, change.field, v)  # noqa: E731
        corrected = f" (corrigé par la Délégation ; vous aviez écrit « {value(change.asked)} »)" \
            if change.asked is not None and change.asked != change.new else ""
        where = f"{label} de {who}" if who else label
        return f"{where} : {value(change.old)} → {value(change.new)}{corrected}"
    if change.op == "delete":
        return f"Suppression : {ENTITY_NAMES[change.entity]} {who}".rstrip()
    if change.op == "move":
        return f"L'action extérieure {who} devient une coopération décentralisée"
    if change.entity == "apd":
        year = change.ref[4:] if change.ref.startswith("APD-") else ""
        return f"{NEW_NAMES['apd']} {year} : {labels.value('apd', 'amount', change.new)}".replace("  ", " ")
    return f"{NEW_NAMES[change.entity]} : {labels.value(change.entity, None, change.new)}"


def decision_context(changes: list[Change], labels: Labels, names: Names | None = None) -> dict:
    approved = [decision_line(c, labels, names) for c in changes if c.status == "applied"]
    rejected = [Rejected(decision_line(c, labels, names), c.reason or "non précisée") for c in changes
                if c.status == "rejected"]
    return {"approved": approved, "rejected": rejected}


# --- shell: queue the agents' messages -------------------------------------------------------------------

def due_notices(session: Session, *, limit: int = BATCH) -> list[int]:
    return list(session.scalars(
        select(ChangeSet.id).where(ChangeSet.status.in_(DECIDED), ChangeSet.notified_at.is_(None))
        .order_by(ChangeSet.decided_at, ChangeSet.id).limit(limit)))


def notify_decided(sessions, config: Config) -> list[int]:
    """Queue one message per decided set not yet told; returns the outbound ids (for delivery)."""
    outbound_ids: list[int] = []
    rules_cache: dict[int, dict] = {}
    while True:
        with sessions.begin() as session:
            ids = due_notices(session)
            if not ids:
                return outbound_ids
            sets = session.scalars(select(ChangeSet).where(ChangeSet.id.in_(ids))
                                   .options(selectinload(ChangeSet.changes)).with_for_update())
            for changeset in sets:
                if changeset.notified_at is not None:
                    continue  # told by a concurrent run since we looked
                outbound = _notice(session, config, changeset, rules_cache)
                changeset.notified_at = utcnow()
                if outbound is not None:
                    changeset.notice_outbound_id = outbound.id
                    outbound_ids.append(outbound.id)


def _notice(session: Session, config: Config, changeset: ChangeSet, rules_cache: dict):
    if not changeset.sender or changeset.reverts_id is not None:
        return None
    inbound = session.get(InboundMessage, changeset.inbound_id) if changeset.inbound_id else None
    if inbound is not None and authentication(inbound) == "fail":
        return None  # a forged From: the notice would show the record's values to whoever forged it
    collectivite = session.get(Collectivite, changeset.collectivite_id)
    labels = _labels(session, changeset.campaign_id, rules_cache)
    context = {
        **decision_context(list(changeset.changes), labels, snapshot_names(_snapshot(session, changeset))),
        "collectivite": {"name": collectivite.name, "code": collectivite.code},
        "received_on": french_date(changeset.created_at.date()),
    }
    in_reply_to = inbound.message_id if inbound is not None else None
    message = build_message(
        make_environment(config.templates_override), "agent_decision", context, sender=sender_of(config), to=[changeset.sender],
        message_id=new_message_id(config.from_address), in_reply_to=in_reply_to,
        references=_references(inbound), auto_submitted="auto-generated")
    return enqueue(session, message, [Recipient(changeset.sender, None)], kind="decision",
                   campaign_id=changeset.campaign_id, collectivite_id=changeset.collectivite_id)


def _references(inbound: InboundMessage | None) -> str | None:
    if inbound is None:
        return None

    return thread_headers(inbound)[1]


def _snapshot(session: Session, changeset: ChangeSet) -> dict | None:
    """The record as the form showed it to the agent (names and APD years of the references)."""
    if changeset.outbound_id is None:
        return None
    return session.scalar(select(Snapshot.data).where(Snapshot.outbound_id == changeset.outbound_id))


def _labels(session: Session, campaign_id: int | None, cache: dict) -> Labels:
    if campaign_id not in cache:
        campaign = session.get(Campaign, campaign_id) if campaign_id else None
        cache[campaign_id] = labels_for(campaign_rules(campaign) if campaign else None, reference_lists(session))
    return cache[campaign_id]


# --- the reviewers' digest -------------------------------------------------------------------------------

def digest(session: Session, *, now=None) -> dict:
    """The queue in figures: what waits, since when, what needs a reviewer's judgement."""
    now = now or utcnow()
    pending = ChangeSet.status == "pending"

    def count(*conditions) -> int:
        return session.scalar(select(func.count()).select_from(ChangeSet).where(pending, *conditions)) or 0

    oldest = session.execute(
        select(ChangeSet.id, ChangeSet.created_at, Collectivite.name, Collectivite.code)
        .join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
        .where(pending).order_by(ChangeSet.created_at, ChangeSet.id).limit(1)).first()
    conflict_sets = session.execute(
        select(ChangeSet.id, Collectivite.name, Collectivite.code)
        .join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
        .where(pending, ChangeSet.has_conflicts.is_(True)).order_by(ChangeSet.created_at, ChangeSet.id).limit(20)).all()
    return {
        "pending": count(),
        "clean": count(ChangeSet.trusted.is_(True), ChangeSet.has_errors.is_(False), ChangeSet.has_conflicts.is_(False)),
        "with_errors": count(ChangeSet.has_errors.is_(True)),
        "conflicts": count(ChangeSet.has_conflicts.is_(True)),
        "untrusted": count(ChangeSet.trusted.is_(False)),
        "decided_last_day": session.scalar(select(func.count()).select_from(ChangeSet).where(
            ChangeSet.status.in_(DECIDED), ChangeSet.decided_at >= now - timedelta(days=1))) or 0,
        "oldest": None if oldest is None else {
            "id": oldest.id, "collectivite": oldest.name, "code": oldest.code,
            "created_on": french_date(oldest.created_at.date()),
            "days": max(0, (now - aware(oldest.created_at)).days)},
        "conflict_sets": [{"id": r.id, "collectivite": r.name, "code": r.code} for r in conflict_sets],
        "by_region": _by_region(session),
    }


def _by_region(session: Session) -> list[dict]:
    rows = session.execute(
        select(Collectivite.region, func.count()).select_from(ChangeSet)
        .join(Collectivite, ChangeSet.collectivite_id == Collectivite.id)
        .where(ChangeSet.status == "pending").group_by(Collectivite.region)
        .order_by(func.count().desc(), Collectivite.region)).all()
    names = dict(session.execute(select(Collectivite.region, Collectivite.name)
                                 .where(Collectivite.kind == "region")).all())
    return [{"region": names.get(region, region or "—"), "count": n} for region, n in rows]


def send_digest(sessions, config: Config, to: list[str], *, now=None) -> int:
    """Queue the digest to the reviewers' addresses; returns the outbound id."""
    now = now or utcnow()
    with sessions.begin() as session:
        context = {"digest": digest(session, now=now), "day": french_date(now.date())}
        message = build_message(make_environment(config.templates_override), "reviewer_digest", context, sender=sender_of(config),
                                to=to, message_id=new_message_id(config.from_address), auto_submitted="auto-generated")
        outbound = enqueue(session, message, [Recipient(a, None) for a in to], kind="digest")
        return outbound.id


def reading_aids(session: Session, changeset_id: int) -> tuple[Labels, Names]:
    """The labels of a set's campaign and the names of the records its form showed (`review show`)."""
    changeset = session.get(ChangeSet, changeset_id)
    if changeset is None:
        return Labels(), Names()
    return _labels(session, changeset.campaign_id, {}), snapshot_names(_snapshot(session, changeset))
