"""Summaries: one collectivité's record with its reply form, rendered, snapshotted and queued.

Used by campaign sends and reminders, and by the `FICHE` command (send me my summary again).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.config import Config
from mailbot.outbound.form import FORM_VERSION, FormContext, describe, masked_snapshot, record_value, render_form, SNAPSHOT_KEYS
from mailbot.outbound.letter import record_sections
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id, plus_address
from mailbot.outbound.render import Sender, build_message, make_environment, sender_of
from mailbot.rules import ReferenceLists, Rules
from mailbot.tokens import make_token
from store.campaign_models import Campaign, OutboundMessage, Snapshot
from store.models import Network, Theme

TEMPLATE = "agent_summary"


def reference_lists(session: Session) -> ReferenceLists:
    themes = {code: label for code, label in session.execute(select(Theme.code, Theme.label).order_by(Theme.code))}
    networks = {code: name for code, name in session.execute(select(Network.code, Network.name).order_by(Network.name))}
    return ReferenceLists(themes=themes, networks=networks)


def usable_recipients(record: dict) -> list[Recipient]:
    """Contacts with an address that is neither bouncing nor known invalid."""
    return [
        Recipient(contact["email"], contact_id=None)
        for contact in record["contacts"]
        if contact.get("email") and contact.get("email_state", "ok") == "ok"
    ]


def missing_items(rules: Rules, record: dict, references: ReferenceLists) -> list[str]:
    """What a reminder says is still missing: empty mandatory fields, and the editable APD year."""
    missing: list[str] = []
    if not any(a["year"] == rules.apd_editable_year and a["amount"] is not None for a in record["apd"]):
        missing.append(f"le montant de l'aide publique au développement {rules.apd_editable_year}")
    if not record["contacts"]:
        missing.append("au moins un élu ou cadre en charge des relations internationales")
    for part in ("contact", "cooperation", "action"):
        for item in record[SNAPSHOT_KEYS[part]]:
            missing += _missing_fields(rules, part, item, item["ref"])
            for project in item.get("projects", []):
                missing += _missing_fields(rules, "projet", project, project["ref"])
    return missing


def _missing_fields(rules: Rules, part: str, item: dict, ref: str) -> list[str]:
    whose = describe(part, item)
    return [
        f"{field.label} de {whose} ({ref})" if whose else f"{field.label} ({ref})"
        for field in rules.parts[part].fields
        if field.mandatory and record_value(part, field, item) in (None, "", [])
    ]


def build_summary(
    config: Config,
    *,
    campaign: Campaign,
    form_context: FormContext,
    record: dict,
    recipients: list[Recipient],
    outbound_id: int,
    kind: str = "summary",
    in_reply_to: str | None = None,
    references_header: str | None = None,
    masked: bool = False,
    missing: list[str] | None = None,
    reminder_number: int = 0,
    first_sent: date | None = None,
    sender: Sender | None = None,
):
    """The summary message for one collectivité (pure): its form carries the token of `outbound_id`.
    Sent of the bot's own accord (auto-generated), or as the answer to a « FICHE » (auto-replied)."""
    shown = masked_snapshot(record) if masked else record
    token = make_token(config.secret, campaign.name, record["code"], outbound_id)
    memo: dict = {}  # each record's values, written once for the form and the letter
    context = {
        "kind": kind,
        "campaign": campaign,
        "collectivite": record,
        "form_lines": render_form(shown, token, form_context, memo),
        "sections": record_sections(shown, form_context, memo),
        "contact": form_context.rules.contact,
        "missing": missing or [],
        "reminder_number": reminder_number,
        "first_sent": first_sent or date.today(),
        "subject_hint": f"Atlas {campaign.year} — {record['name']}",
    }
    message = build_message(
        make_environment(config.templates_override), TEMPLATE, context,
        sender=sender or sender_of(config),
        to=[r.address for r in recipients],
        message_id=new_message_id(config.from_address),
        reply_to=plus_address(config.from_address, token),
        in_reply_to=in_reply_to,
        references=references_header,
        auto_submitted="auto-replied" if in_reply_to else "auto-generated",
    )
    return message, token


def enqueue_summary(
    session: Session,
    config: Config,
    *,
    campaign: Campaign,
    rules: Rules,
    references: ReferenceLists,
    collectivite_id: int,
    record: dict,
    recipients: list[Recipient],
    kind: str = "summary",
    in_reply_to: str | None = None,
    references_header: str | None = None,
    masked: bool = False,
    missing: list[str] | None = None,
    reminder_number: int = 0,
) -> OutboundMessage:
    """Render the summary with its form, store the snapshot it shows, and queue it for delivery."""
    first_sent = _first_sent(session, campaign, collectivite_id) if kind == "reminder" else None
    built: dict = {}

    def build(message_id: int):
        built["message"], built["token"] = build_summary(
            config, campaign=campaign, form_context=FormContext(rules, references), record=record,
            recipients=recipients, outbound_id=message_id, kind=kind, in_reply_to=in_reply_to,
            references_header=references_header, masked=masked, missing=missing,
            reminder_number=reminder_number, first_sent=first_sent,
        )
        return built["message"]

    outbound = enqueue(
        session, build, recipients, kind=kind, campaign_id=campaign.id,
        collectivite_id=collectivite_id, token=lambda _id: built["token"],
    )
    shown = {**record, "masked": True} if masked else dict(record)  # the real values, and what the form showed of them
    shown["form_version"] = FORM_VERSION  # how its blocks are bound to the collectivité (mailbot.replies.diff)
    session.add(Snapshot(outbound_id=outbound.id, collectivite_id=collectivite_id, data=shown))
    return outbound


def _first_sent(session: Session, campaign: Campaign, collectivite_id: int):
    created = session.scalar(
        select(OutboundMessage.created_at)
        .where(OutboundMessage.campaign_id == campaign.id, OutboundMessage.collectivite_id == collectivite_id,
               OutboundMessage.kind == "summary")
        .order_by(OutboundMessage.id).limit(1)
    )
    return created.date() if created else None
