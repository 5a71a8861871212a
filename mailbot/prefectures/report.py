"""The territory report: each territory's progress (the `campaign status` figures) and its unreachable collectivités, printed or mailed with a CSV."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mailbot.config import Config
from mailbot.outbound.campaign import campaign_rules, get_campaign
from mailbot.outbound.delivery import deliver_pending
from mailbot.outbound.form import mask_address
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id
from mailbot.outbound.render import build_message, make_environment, sender_of
from mailbot.prefectures.territory import (
    KIND_LABELS,
    TerritoryRow,
    csv_name,
    figures,
    status_csv,
    territories,
)
from store.campaign_models import Campaign, Delivery, OutboundMessage
from store.models import Collectivite, Contact, Prefecture

REPORT_TEMPLATE = "prefecture_report"

# --- the territory report ------------------------------------------------------------------------------------


@dataclass
class TerritoryReport:
    prefecture: Prefecture
    rows: list[TerritoryRow]
    figures: dict[str, int]
    unreachable: list[dict]  # what is known of each unreachable collectivité

    def as_json(self) -> dict:
        return {"departement": self.prefecture.departement, "prefecture": self.prefecture.name,
                "email": self.prefecture.email, "figures": self.figures, "unreachable": self.unreachable}


def territory_reports(session: Session, campaign: Campaign) -> list[TerritoryReport]:
    """One report per préfecture whose territory has collectivités in the campaign."""
    prefectures = {p.departement: p for p in session.scalars(select(Prefecture))}
    by_territory = territories(session, campaign)
    unreachable_codes = [r.code for rows in by_territory.values() for r in rows if r.state and r.state["unreachable"]]
    known = what_is_known(session, campaign, unreachable_codes)
    reports = []
    for dep in sorted(by_territory):
        rows = by_territory[dep]
        counted = figures(rows)
        if not counted["collectivites"]:
            continue
        unreachable = [{"code": r.code, "name": r.name, "kind": KIND_LABELS.get(r.kind, r.kind), "siren": r.siren,
                        "population": r.population, **known.get(r.code, {"contacts": [], "incident": None})}
                       for r in rows if r.state and r.state["unreachable"]]
        reports.append(TerritoryReport(prefectures[dep], rows, counted, unreachable))
    return reports


def what_is_known(session: Session, campaign: Campaign, codes: list[str]) -> dict[str, dict]:
    """Contacts (addresses masked: the préfecture is not one of them) and the last delivery incident."""
    if not codes:
        return {}
    known: dict[str, dict] = defaultdict(lambda: {"contacts": [], "incident": None})
    ids = dict(session.execute(select(Collectivite.id, Collectivite.code).where(Collectivite.code.in_(codes))).all())
    for contact in session.scalars(select(Contact).where(Contact.collectivite_id.in_(ids)).order_by(Contact.id)):
        state = {"ok": "", "bouncing": " (en échec)", "invalid": " (invalide)"}.get(contact.email_state, "")
        address = mask_address(contact.email) + state if contact.email else "sans adresse"
        text = f"{contact.first_name} {contact.last_name}, {contact.title} — {address}".strip()
        known[ids[contact.collectivite_id]]["contacts"].append(
            {"name": f"{contact.first_name} {contact.last_name}".strip(), "title": contact.title,
             "email": mask_address(contact.email) if contact.email else None, "email_state": contact.email_state,
             "text": text})
    for cid, detail in session.execute(
        select(OutboundMessage.collectivite_id, Delivery.detail)
        .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
        .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.collectivite_id.in_(ids),
               Delivery.detail.is_not(None))
        .order_by(Delivery.id)
    ):
        known[ids[cid]]["incident"] = detail  # the latest wins
    for code in codes:
        usable = [c for c in known[code]["contacts"] if c["email"] and c["email_state"] == "ok"]
        if not usable and known[code]["incident"] is None:
            known[code]["incident"] = "aucune adresse électronique utilisable"
    return dict(known)


def build_report(config: Config, campaign: Campaign, report: TerritoryReport) -> EmailMessage:
    """The territory report for one préfecture (pure), with the whole territory as CSV."""
    context = {
        "campaign": campaign, "prefecture": report.prefecture, "figures": report.figures,
        "unreachable": report.unreachable, "bot_address": config.from_address,
        "contact": campaign_rules(campaign).contact, "attachment": csv_name("avancement", campaign, report.prefecture),
    }
    known = {item["code"]: item for item in report.unreachable}
    return build_message(make_environment(config.templates_override), REPORT_TEMPLATE, context, sender=sender_of(config),
                         to=[report.prefecture.email], message_id=new_message_id(config.from_address),
                         auto_submitted="auto-generated",
                         attachments=[(context["attachment"], status_csv(report.rows, known))])


def send_reports(engine: Engine, sessions, config: Config, campaign_name: str) -> tuple[int, int]:
    """Queue and deliver one report per préfecture concerned; (queued, sent). Each run sends a fresh
    report: it is a picture of the day, not a one-off like the circular."""

    with sessions.begin() as session:
        campaign = get_campaign(session, campaign_name)
        ids = []
        for report in territory_reports(session, campaign):
            outbound = enqueue(session, build_report(config, campaign, report),
                               [Recipient(report.prefecture.email)], kind="report", campaign_id=campaign.id)
            ids.append(outbound.id)
    delivered = deliver_pending(engine, config, only_outbound=set(ids)) if ids else None
    return len(ids), delivered.sent if delivered else 0
