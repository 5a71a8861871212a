"""Campaigns: create one, render its summaries into the outbox, remind, and report progress.

Rendering is resumable: a target whose summary is stored is never rendered again, and each batch of
targets is one transaction, so a kill at any moment loses at most an uncommitted batch, which the
next run renders. Sending is the delivery worker's job (see `mailbot.delivery`).
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.rules import Rules, load_rules, parse_rules_text
from mailbot.form import FormContext
from mailbot.outbox import Prepared, enqueue_many, reserve_ids
from mailbot.summary import build_summary, enqueue_summary, reference_lists, usable_recipients
from store.campaign_models import Campaign, CampaignTarget, Delivery, OutboundMessage, ReminderLog, Snapshot
from store.models import Collectivite, Contact
from store.queries import collectivite_records

log = logging.getLogger("mailbot.campaign")
RENDER_BATCH = 200


class CampaignError(ValueError):
    """A campaign request that cannot be honoured; the message is for the user."""



def create_campaign(session: Session, name: str, rules_path: Path, deadline: date) -> Campaign:
    """A campaign over every collectivité of the Atlas, with the rules frozen as they are now."""
    if session.scalar(select(Campaign.id).where(Campaign.name == name)):
        raise CampaignError(f"a campaign named {name!r} already exists")
    rules = load_rules(rules_path)
    campaign = Campaign(
        name=name, rules_path=str(rules_path), rules_text=Path(rules_path).read_text(encoding="utf-8"),
        year=rules.year, apd_editable_year=rules.apd_editable_year, deadline=deadline, created_at=utcnow(),
    )
    session.add(campaign)
    session.flush()
    ids = session.scalars(select(Collectivite.id).where(Collectivite.in_atlas.is_(True)).order_by(Collectivite.id))
    session.execute(
        CampaignTarget.__table__.insert(),
        [{"campaign_id": campaign.id, "collectivite_id": cid, "unreachable": False, "reminders_sent": 0} for cid in ids],
    )
    return campaign


def get_campaign(session: Session, name: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is None:
        raise CampaignError(f"unknown campaign {name!r} (see `mailbot campaign list`)")
    return campaign


def campaign_rules(campaign: Campaign) -> Rules:
    return parse_rules_text(campaign.rules_text, source=campaign.rules_path)


@dataclass
class RenderReport:
    rendered: int = 0
    unreachable: int = 0
    outbound_ids: list[int] = field(default_factory=list)


def pending_targets(session: Session, campaign: Campaign, only: list[str] | None, limit: int | None) -> list[int]:
    """Target ids still without a summary (in collectivité order), restricted as asked."""
    query = (
        select(CampaignTarget.id)
        .join(Collectivite, CampaignTarget.collectivite_id == Collectivite.id)
        .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.summary_id.is_(None),
               CampaignTarget.unreachable.is_(False))
        .order_by(CampaignTarget.collectivite_id)
    )
    if only:
        codes = [code.strip().upper() for code in only]
        known = set(session.scalars(select(Collectivite.code).where(Collectivite.code.in_(codes))))
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise CampaignError(f"unknown collectivité code(s): {', '.join(unknown)}")
        query = query.where(Collectivite.code.in_(codes))
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def render_campaign(
    engine: Engine,
    sessions,
    config: Config,
    campaign_name: str,
    *,
    only: list[str] | None = None,
    limit: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> RenderReport:
    """Render and store the summaries of every pending target, batch by batch."""
    report = RenderReport()
    with sessions() as session:
        campaign = get_campaign(session, campaign_name)
        target_ids = pending_targets(session, campaign, only, limit)
        rules = campaign_rules(campaign)
        references = reference_lists(session)
    for start in range(0, len(target_ids), RENDER_BATCH):
        batch = target_ids[start:start + RENDER_BATCH]
        with sessions.begin() as session:
            campaign = session.get(Campaign, campaign.id)
            _render_batch(session, config, campaign, rules, references, batch, report)
        if on_progress:
            on_progress(len(batch))
    return report


def _render_batch(session, config, campaign, rules, references, target_ids, report: RenderReport) -> None:
    """Render one batch: build every message first (pure), then write them with bulk statements."""
    targets = list(session.scalars(
        select(CampaignTarget).where(CampaignTarget.id.in_(target_ids), CampaignTarget.summary_id.is_(None))
        .order_by(CampaignTarget.collectivite_id).with_for_update()
    ))
    records = collectivite_records(session, [t.collectivite_id for t in targets])
    reachable = []
    for target in targets:
        recipients = usable_recipients(records[target.collectivite_id])
        if recipients:
            reachable.append((target, recipients))
        else:
            target.unreachable = True
            report.unreachable += 1
    ids = reserve_ids(session, len(reachable))
    context = FormContext(rules, references)
    prepared, snapshots = [], []
    for (target, recipients), outbound_id in zip(reachable, ids):
        record = records[target.collectivite_id]
        message, token = build_summary(config, campaign=campaign, form_context=context, record=record,
                                       recipients=recipients, outbound_id=outbound_id)
        prepared.append(Prepared(outbound_id, message, recipients, "summary", campaign.id, target.collectivite_id, token))
        snapshots.append({"outbound_id": outbound_id, "collectivite_id": target.collectivite_id, "data": record})
    enqueue_many(session, prepared)
    if snapshots:
        session.execute(insert(Snapshot), snapshots)
    for (target, _recipients), outbound_id in zip(reachable, ids):
        target.summary_id = outbound_id  # after the rows exist: the foreign key is checked at once
    session.flush()
    report.rendered += len(prepared)
    report.outbound_ids += ids


# --- status -------------------------------------------------------------------------------------

STATUS_COLUMNS = ("collectivites", "sent", "delivered", "bounced", "unreachable", "replied", "confirmed",
                  "pending_review", "approved")


def campaign_status(session: Session, campaign: Campaign, by: str | None = None) -> dict:
    """Counts per territory (`by` = departement | region, or one national line).

    Each collectivité counts once per column: sent = its summary went to at least one address;
    delivered = at least one copy was accepted and has not bounced; bounced = at least one address
    bounced or was refused; unreachable = no usable address, or every address tried failed.
    """
    rows = target_states(session, campaign)
    totals: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        key = row["region"] if by == "region" else row["departement"] if by == "departement" else "France"
        line = totals[key or "?"]
        line["collectivites"] += 1
        for column in STATUS_COLUMNS[1:]:
            line[column] += 1 if row[column] else 0
    return {key: {c: totals[key][c] for c in STATUS_COLUMNS} for key in sorted(totals)}


def target_states(session: Session, campaign: Campaign) -> list[dict]:
    """One dict per target: territory and the boolean status columns (shared by préfecture reports)."""
    delivery_counts = _delivery_counts(session, campaign)
    review_counts = review_states(session, campaign)
    rows = session.execute(
        select(CampaignTarget.collectivite_id, CampaignTarget.unreachable, CampaignTarget.replied_at,
               CampaignTarget.confirmed_at, Collectivite.departement, Collectivite.region, Collectivite.code,
               Collectivite.name)
        .join(Collectivite, CampaignTarget.collectivite_id == Collectivite.id)
        .where(CampaignTarget.campaign_id == campaign.id)
        .order_by(Collectivite.code)
    ).all()
    states = []
    for cid, unreachable, replied_at, confirmed_at, dep, reg, code, name in rows:
        d = delivery_counts.get(cid, Counter())
        r = review_counts.get(cid, Counter())
        sent = d["sent"] > 0
        delivered = d["sent"] - d["bounced"] > 0
        tried_everything = d["pending"] == 0 and d["sent"] + d["failed"] > 0
        states.append({
            "code": code, "name": name, "departement": dep, "region": reg,
            "sent": sent,
            "delivered": delivered,
            "bounced": d["bounced"] + d["failed"] > 0,
            # no usable address at all, or every address tried has bounced or failed
            "unreachable": bool(unreachable) or (tried_everything and not delivered),
            "replied": replied_at is not None or confirmed_at is not None,
            "confirmed": confirmed_at is not None,
            "pending_review": r["pending"] > 0,
            "approved": r["approved"] > 0,
        })
    return states


def _delivery_counts(session: Session, campaign: Campaign) -> dict[int, Counter]:
    rows = session.execute(
        select(OutboundMessage.collectivite_id, Delivery.state, Delivery.bounced_at.is_not(None), func.count())
        .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
        .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.kind.in_(("summary", "reminder")))
        .group_by(OutboundMessage.collectivite_id, Delivery.state, Delivery.bounced_at.is_not(None))
    ).all()
    counts: dict[int, Counter] = defaultdict(Counter)
    for cid, state, bounced, n in rows:
        if state == "sent":
            counts[cid]["sent"] += n
            if bounced:
                counts[cid]["bounced"] += n
        elif state == "failed":
            counts[cid]["failed"] += n
        else:
            counts[cid]["pending"] += n
    return counts


def review_states(session: Session, campaign: Campaign) -> dict[int, Counter]:
    """Change-set states per collectivité; empty until change sets exist (the parsing stage)."""
    try:
        from store.review_models import ChangeSet
    except ImportError:
        return {}
    rows = session.execute(
        select(ChangeSet.collectivite_id, ChangeSet.status, func.count())
        .where(ChangeSet.campaign_id == campaign.id)
        .group_by(ChangeSet.collectivite_id, ChangeSet.status)
    ).all()
    counts: dict[int, Counter] = defaultdict(Counter)
    for cid, status, n in rows:
        counts[cid][status] += n
    return counts


# --- reminders ----------------------------------------------------------------------------------

@dataclass
class RemindReport:
    reminded: int = 0
    skipped_recent: int = 0
    skipped_max: int = 0
    outbound_ids: list[int] = field(default_factory=list)


def remind_campaign(engine, sessions, config: Config, campaign_name: str, *, after: timedelta,
                    now: datetime | None = None) -> RemindReport:
    """Remind targets that were sent a summary `after` ago and have neither replied nor confirmed."""
    from mailbot.summary import missing_items

    now = now or utcnow()
    report = RemindReport()
    with sessions.begin() as session:
        campaign = get_campaign(session, campaign_name)
        rules = campaign_rules(campaign)
        references = reference_lists(session)
        targets = list(session.scalars(
            select(CampaignTarget)
            .join(OutboundMessage, CampaignTarget.summary_id == OutboundMessage.id)
            .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.replied_at.is_(None),
                   CampaignTarget.confirmed_at.is_(None), OutboundMessage.created_at <= now - after)
            .order_by(CampaignTarget.collectivite_id)
        ))
        records = collectivite_records(session, [t.collectivite_id for t in targets])
        for target in targets:
            if target.reminders_sent >= rules.reminder_max_count:
                report.skipped_max += 1
                continue
            last = _aware(target.last_reminder_at)
            if last and now - last < timedelta(days=rules.reminder_min_days):
                report.skipped_recent += 1
                continue
            record = records[target.collectivite_id]
            recipients = usable_recipients(record)
            if not recipients:
                continue
            missing = missing_items(rules, record, references)
            outbound = enqueue_summary(
                session, config, campaign=campaign, rules=rules, references=references,
                collectivite_id=target.collectivite_id, record=record, recipients=recipients,
                kind="reminder", missing=missing, reminder_number=target.reminders_sent + 1,
            )
            target.reminders_sent += 1
            target.last_reminder_at = now
            session.add(ReminderLog(campaign_id=campaign.id, collectivite_id=target.collectivite_id,
                                    outbound_id=outbound.id, sent_at=now, missing=missing))
            report.reminded += 1
            report.outbound_ids.append(outbound.id)
    return report


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


# --- sending ---------------------------------------------------------------------------------------

@dataclass
class SendReport:
    render: RenderReport
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def send_campaign(
    engine: Engine,
    sessions,
    config: Config,
    campaign_name: str,
    *,
    only: list[str] | None = None,
    limit: int | None = None,
    on_rendered: Callable[[int], None] | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> SendReport:
    """Render the pending summaries into the outbox, then deliver what is due.

    One after the other on purpose: overlapping them in one process was measured slower (both stages
    are CPU-bound in Python and share one interpreter lock).
    """
    from mailbot.delivery import deliver_pending, release_interrupted

    release_interrupted(engine)
    with sessions() as session:
        campaign_id = get_campaign(session, campaign_name).id
    rendered = render_campaign(engine, sessions, config, campaign_name, only=only, limit=limit,
                               on_progress=on_rendered)
    delivered = deliver_pending(engine, config, campaign_id=campaign_id, on_progress=on_sent)
    return SendReport(rendered, delivered.sent, delivered.deferred, delivered.failed, delivered.errors)
