"""The circular: each préfecture's letter, with its territory's collectivités and their status (table + CSV), sent exactly once per campaign."""
from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.outbound.campaign import campaign_rules, get_campaign
from mailbot.outbound.delivery import deliver_pending
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id
from mailbot.outbound.render import build_message, make_environment, sender_of
from mailbot.prefectures.territory import (
    KIND_LABELS,
    TerritoryRow,
    csv_name,
    status_csv,
    territories,
)
from store.campaign_models import Campaign
from store.models import Prefecture
from store.prefecture_models import Circular

CIRCULAR_TEMPLATE = "prefecture_circular"

# --- the circular ------------------------------------------------------------------------------------------


def build_circular(config: Config, campaign: Campaign, prefecture: Prefecture, rows: list[TerritoryRow]) -> EmailMessage:
    """The circular for one préfecture (pure): the campaign, how agents reach the bot, its territory."""
    rules = campaign_rules(campaign)
    context = {
        "campaign": campaign, "contact": rules.contact, "title": rules.title, "prefecture": prefecture,
        "bot_address": config.from_address, "rows": rows, "kind_labels": KIND_LABELS,
        "attachment": csv_name("collectivites", campaign, prefecture),
    }
    return build_message(make_environment(config.templates_override), CIRCULAR_TEMPLATE, context, sender=sender_of(config),
                         to=[prefecture.email], message_id=new_message_id(config.from_address),
                         auto_submitted="auto-generated",
                         attachments=[(context["attachment"], status_csv(rows))])


@dataclass
class CircularReport:
    sent: int = 0
    already: int = 0
    outbound_ids: list[int] = field(default_factory=list)
    delivered: int = 0
    deferred: int = 0
    failed: int = 0


def send_circulars(engine: Engine, sessions, config: Config, campaign_name: str) -> CircularReport:
    """Queue the circular of every préfecture that has not had one for this campaign, then deliver.

    One transaction per préfecture; the unique (campaign, préfecture) row makes a second run, or a
    concurrent one, send nothing twice. Circulars queued by an interrupted run are delivered too.
    """

    report = CircularReport()
    with sessions() as session:
        campaign = get_campaign(session, campaign_name)
        by_territory = territories(session, campaign)
        done = set(session.scalars(select(Circular.prefecture_id).where(Circular.campaign_id == campaign.id)))
        prefecture_ids = [p.id for p in session.scalars(select(Prefecture).order_by(Prefecture.departement))]
    for prefecture_id in prefecture_ids:
        if prefecture_id in done:
            report.already += 1
            continue
        try:
            with sessions.begin() as session:
                prefecture = session.get(Prefecture, prefecture_id)
                campaign_row = session.get(Campaign, campaign.id)
                message = build_circular(config, campaign_row, prefecture, by_territory[prefecture.departement])
                outbound = enqueue(session, message, [Recipient(prefecture.email)], kind="circular",
                                   campaign_id=campaign.id)
                session.add(Circular(campaign_id=campaign.id, prefecture_id=prefecture_id, outbound_id=outbound.id,
                                     created_at=utcnow()))
                session.flush()
            report.sent += 1
        except IntegrityError:
            report.already += 1  # another run sent it meanwhile
    with sessions() as session:
        report.outbound_ids = list(session.scalars(select(Circular.outbound_id).where(Circular.campaign_id == campaign.id)))
    if report.outbound_ids:
        delivered = deliver_pending(engine, config, only_outbound=set(report.outbound_ids))
        report.delivered, report.deferred, report.failed = delivered.sent, delivered.deferred, delivered.failed
    return report
