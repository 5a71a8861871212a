"""Answering a message: loop-safe answers (never a robot, a bounce, a list or our own address; at
most one explanation of a kind per address per day; at most `max_answers_per_day` answers), the
notes kept on the inbound message, and the thread headers of an answer.

Every route that answers goes through `answer` (or `answer_refusal` first); nothing here decides
what a message means.
"""
from __future__ import annotations

import logging
import re
from email import policy
from email.parser import BytesHeaderParser

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.inbound.read import header_text
from mailbot.inbound.tie import FormTie, authentication, known_contact_id
from mailbot.outbound.campaign import campaign_rules
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id
from mailbot.outbound.render import build_message, make_environment, sender_of
from mailbot.outbound.summary import enqueue_summary, reference_lists
from store.campaign_models import OutboundMessage
from store.inbound_models import AnswerLog, InboundMessage
from store.queries import collectivite_records

log = logging.getLogger("mailbot.pipeline")

# Automatic answers per address per day (to declare later in config.SETTINGS as `max_answers_per_day`).
MAX_ANSWERS_PER_DAY = 5
# At most one of each of these per address per day: explanations, and summaries (whatever asks for
# one again — FICHE, a message without a token, a robot we failed to recognise).
ONCE_A_DAY = ("help", "token_invalid", "summary", "too_complex")
# Answers that show a collectivité's record: never to a From the mail servers found forged.
REVEALING_ANSWERS = ("summary", "ack")
# Addresses nobody reads: answering them only feeds robots.
_UNANSWERABLE_LOCAL = re.compile(
    r"^(no-?reply|ne-?pas-?repondre|nepasrepondre|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+._-]|$)",
    re.IGNORECASE,
)


def answer_limit(config: Config) -> int:
    return int(config.values.get("max_answers_per_day", MAX_ANSWERS_PER_DAY))


def answer_refusal(session: Session, config: Config, inbound: InboundMessage, answer_kind: str, *,
                   max_per_day: int | None = None) -> str | None:
    """Why we must not answer this message (None: we may). Loop safety lives here and only here."""
    address = (inbound.sender or "").lower()
    if not address:
        return "expéditeur vide (message automatique ou rebond)"
    local, _, domain = address.rpartition("@")
    our_local, _, our_domain = config.from_address.lower().rpartition("@")
    if domain == our_domain and (local == our_local or local.startswith(our_local + "+")):
        return "notre propre adresse"
    if _UNANSWERABLE_LOCAL.match(local):
        return "adresse qui ne lit pas les réponses"
    if (inbound.details or {}).get("auto"):
        return "message automatique"
    if answer_kind in REVEALING_ANSWERS and authentication(inbound) == "fail":
        return "expéditeur usurpé (échec DMARC) : aucune réponse qui montre la fiche"
    _serialise_answers(session, address)
    today = utcnow().date()
    kinds = list(session.scalars(select(AnswerLog.kind).where(AnswerLog.address == address, AnswerLog.day == today)))
    if answer_kind in ONCE_A_DAY and answer_kind in kinds:
        return "réponse de ce type déjà envoyée aujourd'hui à cette adresse"
    limit = answer_limit(config) if max_per_day is None else max_per_day
    if len(kinds) >= limit:
        return f"limite de {limit} réponses automatiques par jour atteinte pour cette adresse"
    return None


def _serialise_answers(session: Session, address: str) -> None:
    """Two workers answering the same address must not both pass the daily limit. SQLite already runs
    one write transaction at a time; PostgreSQL takes a per-address lock until commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:address))"), {"address": address})


def log_answer(session: Session, inbound: InboundMessage, answer_kind: str, outbound: OutboundMessage) -> None:
    session.add(AnswerLog(address=inbound.sender.lower(), day=utcnow().date(), kind=answer_kind,
                          inbound_id=inbound.id, outbound_id=outbound.id, created_at=utcnow()))
    inbound.response_outbound_id = outbound.id
    note(inbound, "answer", f"réponse {answer_kind} mise en file (message sortant n° {outbound.id})")


def note(inbound: InboundMessage, key: str, value) -> None:
    inbound.details = {**(inbound.details or {}), key: value}  # a new dict: JSON columns track assignment


def thread_headers(inbound: InboundMessage) -> tuple[str | None, str | None]:
    """(In-Reply-To, References) for an answer to `inbound`."""
    head = inbound.raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:256 * 1024]
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(head + b"\n")
    references = " ".join(header_text(headers.get("References", "") or "").split())[:2000]
    return inbound.message_id or None, references or None


def answer(session: Session, config: Config, inbound: InboundMessage, *, template: str, answer_kind: str,
           outbound_kind: str, context: dict, max_per_day: int | None = None) -> OutboundMessage | None:
    """Render `template` in answer to `inbound` and queue it, unless loop safety says no."""
    refusal = answer_refusal(session, config, inbound, answer_kind, max_per_day=max_per_day)
    if refusal:
        note(inbound, "answer", f"pas de réponse : {refusal}")
        log.info("inbound %s: no %s answer to %r: %s", inbound.id, answer_kind, inbound.sender, refusal)
        return None
    in_reply_to, references = thread_headers(inbound)
    message = build_message(
        make_environment(config.templates_override), template,
        {"from_address": config.from_address, "original_subject": inbound.subject or "", **context},
        sender=sender_of(config), to=[inbound.sender], message_id=new_message_id(config.from_address),
        in_reply_to=in_reply_to, references=references, auto_submitted="auto-replied",
    )
    contact_id = known_contact_id(session, inbound.sender, inbound.collectivite_id)
    outbound = enqueue(session, message, [Recipient(inbound.sender, contact_id)], kind=outbound_kind,
                       campaign_id=inbound.campaign_id, collectivite_id=inbound.collectivite_id)
    log_answer(session, inbound, answer_kind, outbound)
    return outbound


def explain(session: Session, config: Config, inbound: InboundMessage, problem: str) -> OutboundMessage | None:
    return answer(session, config, inbound, template="agent_token_invalid", answer_kind="token_invalid",
                  outbound_kind="explanation", context={"problem": problem})


def enqueue_current_summary(session: Session, config: Config, inbound: InboundMessage, tie: FormTie) -> OutboundMessage:
    record = collectivite_records(session, [tie.collectivite.id])[tie.collectivite.id]
    in_reply_to, references = thread_headers(inbound)
    contact_id = known_contact_id(session, inbound.sender, tie.collectivite.id)
    return enqueue_summary(
        session, config, campaign=tie.campaign, rules=campaign_rules(tie.campaign),
        references=reference_lists(session), collectivite_id=tie.collectivite.id, record=record,
        recipients=[Recipient(inbound.sender, contact_id)], in_reply_to=in_reply_to,
        references_header=references, masked=not inbound.trusted,
    )
