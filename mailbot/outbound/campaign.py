"""Campaigns: create one, render its summaries into the outbox, remind, and report progress.

Rendering is resumable: a target whose summary is stored is never rendered again, and each batch of
targets is one transaction, so a kill at any moment loses at most an uncommitted batch, which the
next run renders. Sending is the delivery worker's job (see `mailbot.outbound.delivery`).
"""
from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from mailbot.clock import aware, utcnow
from mailbot.config import Config
from mailbot.rules import Rules, load_rules, parse_rules_text
from mailbot.outbound.outbox import Prepared, enqueue_many, reserve_ids
from mailbot.outbound.render import Sender, sender_of
from mailbot.outbound.render_pool import (BatchWorkers, CampaignInfo, RenderedSummary, RenderSetup, SummaryJob,
                                 render_summaries, worker_processes)
from mailbot.outbound.summary import enqueue_summary, missing_items, reference_lists, usable_recipients
from store.campaign_models import Campaign, CampaignTarget, Delivery, OutboundMessage, ReminderLog, Snapshot
from store.models import Collectivite
from store.queries import collectivite_records
from store.db import make_engine, session_factory
from store.review_models import ChangeSet
from mailbot.outbound.delivery import DeliveryReport, deliver_pending, release_orphaned

log = logging.getLogger("mailbot.campaign")
RENDER_BATCH = 200
FIRST_BATCHES = (50, 100)  # smaller first batches: the first summaries leave sooner


def render_batches(target_ids: list[int]) -> list[list[int]]:
    """The targets cut into batches: FIRST_BATCHES, then RENDER_BATCH each."""
    batches, start = [], 0
    for size in FIRST_BATCHES:
        if start < len(target_ids):
            batches.append(target_ids[start:start + size])
            start += size
    batches += [target_ids[i:i + RENDER_BATCH] for i in range(start, len(target_ids), RENDER_BATCH)]
    return batches


class CampaignError(ValueError):
    """A campaign request that cannot be honoured; the message is for the user."""



def create_campaign(session: Session, name: str, rules_path: Path, deadline: date) -> Campaign:
    """A campaign over every collectivité of the Atlas, with the rules frozen as they are now."""
    if session.scalar(select(Campaign.id).where(Campaign.name == name)):
        raise CampaignError(f"une campagne nommée « {name} » existe déjà (voir `mailbot campaign list`)")
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
        raise CampaignError(f"campagne inconnue « {name} » (voir `mailbot campaign list`)")
    return campaign


def close_campaign(session: Session, name: str) -> bool:
    """Close campaign `name`: no more reminders, and mail without a token no longer goes to it (a
    reply carrying one of its tokens is still read). False when it was already closed."""
    campaign = get_campaign(session, name)
    if campaign.closed:
        return False
    campaign.closed = True
    return True


def require_open(campaign: Campaign, doing: str) -> None:
    if campaign.closed:
        raise CampaignError(f"la campagne « {campaign.name} » est close : {doing}")


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
            raise CampaignError(f"code(s) de collectivité inconnu(s) : {', '.join(unknown)}")
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
    """Render and store the summaries of every pending target, batch by batch.

    Each batch is read (a read transaction), rendered (pure) and written (one write transaction,
    never held while rendering, so a delivery running alongside is not kept waiting). A large
    campaign's batches go to worker processes (`mailbot.outbound.render_pool`), this process only hands out
    the batches and their outbound ids.
    """
    report = RenderReport()
    with sessions() as session:
        campaign = get_campaign(session, campaign_name)
        target_ids = pending_targets(session, campaign, only, limit)
        setup = RenderSetup(config.secret, sender_of(config), CampaignInfo.of(campaign),
                            campaign_rules(campaign), reference_lists(session), config.templates_override)
        sqlite = session.get_bind().dialect.name == "sqlite"
        next_id = _max_outbound_id(session) + 1
    context = _RenderContext(engine.url.render_as_string(hide_password=False), setup, sessions)
    batches = render_batches(target_ids)
    processes = worker_processes(config.render_processes, len(target_ids))

    def take_ids(batch: list[int]) -> list[int]:
        # one id per target, known before rendering (the form's token names it); SQLite: the ids
        # after the largest, checked again when the batch is written (see `_store_batch`)
        nonlocal next_id
        if sqlite:
            ids, next_id = list(range(next_id, next_id + len(batch))), next_id + len(batch)
            return ids
        with sessions() as session:
            return reserve_ids(session, len(batch))

    def collect(done: RenderReport, size: int) -> None:
        report.rendered += done.rendered
        report.unreachable += done.unreachable
        report.outbound_ids += done.outbound_ids
        if on_progress:
            on_progress(size)

    if processes > 1 and batches:
        # the first, small batch right here: delivery starts with it while the workers boot (~0.5 s)
        first = batches.pop(0)
        collect(_store_batch(context, first, take_ids(first)), len(first))
    with BatchWorkers(context, processes) as workers:
        futures = {workers.submit(_store_batch, batch, take_ids(batch)): len(batch) for batch in batches}
        for future in as_completed(futures):
            collect(future.result(), futures[future])
    report.outbound_ids.sort()
    return report


@dataclass
class _RenderContext:
    """What every batch needs; sent once to each worker process, which opens its own engine."""

    db_url: str
    setup: RenderSetup
    _sessions: Any = None  # the caller's session factory in this process; made from db_url in a worker

    def sessions(self):
        if self._sessions is None:
            self._sessions = session_factory(make_engine(self.db_url))
        return self._sessions

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_sessions": None}


@dataclass
class _BatchPlan:
    """One batch as read from the store: the summaries to render and the targets without address."""

    target_ids: list[int]
    jobs: list[SummaryJob]
    unreachable: list[int]


def _store_batch(context: _RenderContext, target_ids: list[int], ids: list[int]) -> RenderReport:
    """Read, render and write one batch (in a worker process for a large campaign)."""
    report = RenderReport()
    sessions = context.sessions()
    slots = dict(zip(target_ids, ids))
    with sessions() as session:
        plan = _plan_batch(session, target_ids, lambda reachable: [slots[t] for t in reachable])
    rendered = render_summaries(context.setup, plan.jobs)
    with sessions.begin() as session:
        stored = _ids_free(session, plan)
        if stored:
            _write_batch(session, context.setup.campaign.id, plan, rendered, report)
    if not stored:  # rare: another writer (`serve`) queued a message under one of our ids meanwhile
        log.info("outbound ids taken meanwhile: rendering a batch of %d again", len(target_ids))
        with sessions.begin() as session:
            setup = context.setup
            config = Config(values={"secret": setup.secret, "from_address": setup.sender.address,
                                    "templates_dir": setup.templates_dir})
            _render_batch(session, config, session.get(Campaign, setup.campaign.id), setup.rules,
                          setup.references, target_ids, report, sender=setup.sender)
    return report


def _max_outbound_id(session: Session) -> int:
    return session.scalar(select(func.coalesce(func.max(OutboundMessage.id), 0)))


def _ids_free(session: Session, plan: _BatchPlan) -> bool:
    ids = [job.outbound_id for job in plan.jobs]
    return not ids or not session.scalar(select(func.count(OutboundMessage.id)).where(OutboundMessage.id.in_(ids)))


def _plan_batch(session: Session, target_ids: list[int], take_ids: Callable[[list[int]], list[int]], *,
                lock: bool = False) -> _BatchPlan:
    """Targets of the batch still without a summary, their records and recipients, and their ids."""
    query = (
        select(CampaignTarget.id, CampaignTarget.collectivite_id)
        .where(CampaignTarget.id.in_(target_ids), CampaignTarget.summary_id.is_(None))
        .order_by(CampaignTarget.collectivite_id)
    )
    targets = session.execute(query.with_for_update() if lock else query).all()
    records = collectivite_records(session, [cid for _, cid in targets])
    reachable, unreachable = [], []
    for target_id, cid in targets:
        recipients = usable_recipients(records[cid])
        if recipients:
            reachable.append((target_id, cid, recipients))
        else:
            unreachable.append(target_id)
    outbound_ids = take_ids([target_id for target_id, _, _ in reachable])
    jobs = [SummaryJob(outbound_id, target_id, cid, records[cid], recipients)
            for (target_id, cid, recipients), outbound_id in zip(reachable, outbound_ids)]
    return _BatchPlan(target_ids, jobs, unreachable)


def _render_batch(session, config, campaign, rules, references, target_ids, report: RenderReport, *,
                  sender: Sender | None = None) -> None:
    """Read, render and write one batch in the caller's transaction (dry runs, and the rare redo)."""
    setup = RenderSetup(config.secret, sender or sender_of(config), CampaignInfo.of(campaign), rules, references,
                        config.templates_override)
    plan = _plan_batch(session, target_ids, lambda reachable: reserve_ids(session, len(reachable)), lock=True)
    _write_batch(session, campaign.id, plan, render_summaries(setup, plan.jobs), report)


def _write_batch(session: Session, campaign_id: int, plan: _BatchPlan, rendered: list[RenderedSummary],
                 report: RenderReport) -> None:
    """Queue the rendered summaries of targets still without one, with their snapshots, in bulk."""
    still_pending = set(session.scalars(
        select(CampaignTarget.id)
        .where(CampaignTarget.id.in_(plan.target_ids), CampaignTarget.summary_id.is_(None))
        .with_for_update()
    ))
    # a target another sender stored meanwhile keeps its summary; ours is dropped (an id gap)
    kept = [(job, summary) for job, summary in zip(plan.jobs, rendered) if job.target_id in still_pending]
    enqueue_many(session, [
        Prepared(job.outbound_id, summary.raw, summary.message_id, summary.subject, job.recipients, "summary",
                 campaign_id, job.collectivite_id, summary.token)
        for job, summary in kept
    ])
    if kept:
        session.execute(insert(Snapshot), [
            {"outbound_id": job.outbound_id, "collectivite_id": job.collectivite_id, "data": job.record}
            for job, _ in kept
        ])
        # after the rows exist: the foreign key is checked at once
        session.execute(update(CampaignTarget), [{"id": job.target_id, "summary_id": job.outbound_id}
                                                 for job, _ in kept])
    unreachable = [target_id for target_id in plan.unreachable if target_id in still_pending]
    if unreachable:
        session.execute(update(CampaignTarget).where(CampaignTarget.id.in_(unreachable)).values(unreachable=True))
    report.rendered += len(kept)
    report.unreachable += len(unreachable)
    report.outbound_ids += [job.outbound_id for job, _ in kept]


# --- status -------------------------------------------------------------------------------------

STATUS_COLUMNS = ("collectivites", "sent", "delivered", "bounced", "unreachable", "replied", "confirmed",
                  "pending_review", "approved", "uncertain")
# what people read for each column (the --json keys stay the names above)
STATUS_LABELS = {
    "collectivites": "Collectivités", "sent": "Envoyées", "delivered": "Remises", "bounced": "En erreur",
    "unreachable": "Injoignables", "replied": "Ont répondu", "confirmed": "Confirmées",
    "pending_review": "À examiner", "approved": "Approuvées", "uncertain": "Envoi incertain",
}


def campaign_status(session: Session, campaign: Campaign, by: str | None = None) -> dict:
    """Counts per territory (`by` = departement | region, or one national line).

    Each collectivité counts once per column: sent = its summary went to at least one address;
    delivered = at least one copy was accepted and has not bounced; bounced = at least one address
    bounced or was refused; unreachable = no usable address, or every address tried failed;
    uncertain = a copy may have reached the relay twice (the sender died, or the connection was lost,
    between the final dot and the relay's answer: it was sent again with the same Message-ID).
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
            "approved": r["approved"] + r["partial"] > 0,  # partial: some of it reached the Atlas
            "uncertain": d["uncertain"] > 0,
        })
    return states


def _delivery_counts(session: Session, campaign: Campaign) -> dict[int, Counter]:
    rows = session.execute(
        select(OutboundMessage.collectivite_id, Delivery.state, Delivery.bounced_at.is_not(None), Delivery.uncertain,
               func.count())
        .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
        .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.kind.in_(("summary", "reminder")))
        .group_by(OutboundMessage.collectivite_id, Delivery.state, Delivery.bounced_at.is_not(None),
                  Delivery.uncertain)
    ).all()
    counts: dict[int, Counter] = defaultdict(Counter)
    for cid, state, bounced, uncertain, n in rows:
        if uncertain:
            counts[cid]["uncertain"] += n
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
    """Change-set states per collectivité."""
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
    """Remind targets whose summary reached the relay `after` ago (its first accepted recipient) and
    that have neither replied nor confirmed. A summary still queued or deferred is not reminded of:
    nobody has it yet."""

    now = now or utcnow()
    report = RemindReport()
    with sessions.begin() as session:
        campaign = get_campaign(session, campaign_name)
        require_open(campaign, "plus aucune relance n'est envoyée")
        rules = campaign_rules(campaign)
        references = reference_lists(session)
        sent_long_ago = select(Delivery.outbound_id).where(Delivery.state == "sent", Delivery.sent_at <= now - after)
        targets = list(session.scalars(
            select(CampaignTarget)
            .where(CampaignTarget.campaign_id == campaign.id, CampaignTarget.replied_at.is_(None),
                   CampaignTarget.confirmed_at.is_(None), CampaignTarget.summary_id.in_(sent_long_ago))
            .order_by(CampaignTarget.collectivite_id)
        ))
        records = collectivite_records(session, [t.collectivite_id for t in targets])
        for target in targets:
            if target.reminders_sent >= rules.reminder_max_count:
                report.skipped_max += 1
                continue
            last = aware(target.last_reminder_at)
            if last and now - last < timedelta(days=rules.reminder_min_days):
                report.skipped_recent += 1
                continue
            record = records[target.collectivite_id]
            recipients = usable_recipients(record)  # an address refused at RCPT is bouncing: not tried again
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


# --- sending ---------------------------------------------------------------------------------------

@dataclass
class SendReport:
    render: RenderReport
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    relay_error: str | None = None  # the relay refused us (TLS, AUTH): fix MAILBOT_SMTP and rerun
    relay_unreachable: str | None = None  # why the relay could not be reached, when it could not


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
    """Render the pending summaries into the outbox and deliver them, both at once.

    Delivery starts with the first stored batch and keeps looking for new ones until rendering is
    over. They overlap well because the rendering's CPU work is in worker processes (see
    `render_campaign`); in one process they were measured slower than one after the other.
    """

    release_orphaned(engine, config.lease_seconds)  # what a killed run left claimed
    with sessions() as session:
        campaign = get_campaign(session, campaign_name)
        require_open(campaign, "ses fiches ne sont plus envoyées")
        pending_targets(session, campaign, only, limit)  # a bad --only fails before anything is sent
        campaign_id = campaign.id
    rendering_done = threading.Event()
    delivered: list[DeliveryReport] = []
    sender = threading.Thread(
        target=lambda: delivered.append(deliver_pending(engine, config, campaign_id=campaign_id,
                                                        on_progress=on_sent, until=rendering_done)),
        name="campaign-delivery", daemon=True)
    sender.start()
    try:
        rendered = render_campaign(engine, sessions, config, campaign_name, only=only, limit=limit,
                                   on_progress=on_rendered)
    finally:
        rendering_done.set()
        sender.join()
    report = delivered[0] if delivered else DeliveryReport(errors=["delivery stopped unexpectedly (see the log)"])
    return SendReport(rendered, report.sent, report.deferred, report.failed, report.errors, report.relay_error,
                      report.relay_unreachable)
