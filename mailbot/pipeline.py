"""Routing: what happens to a classified message, kind by kind, composed in one visible place.

`route` ties replies and commands to a form through a verified token, then calls `ROUTES[kind]`.
Every route has the same signature, `(session, config, inbound, classification)`, works in the
caller's transaction and sends nothing itself: answers go through `mailbot.outbox.enqueue`, after
`answer_refusal` has checked loop safety (never a robot, a bounce, a list or our own address; at
most one explanation of a kind per address per day; at most `max_answers_per_day` answers).

The parsing issue replaces the reply route: `ROUTES["reply"] = <the parser's route>`.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Callable

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.classify import Classification, header_text
from mailbot.config import Config
from mailbot.outbox import Recipient, enqueue, new_message_id
from mailbot.render import build_message, make_environment, sender_of
from mailbot.tokens import FormReference, find_tokens, verify
from store.campaign_models import Campaign, CampaignTarget, Delivery, OutboundMessage
from store.inbound_models import AnswerLog, InboundMessage
from store.models import Collectivite, Contact
from store.queries import address_bouncing

log = logging.getLogger("mailbot.pipeline")

# Automatic answers per address per day (to declare later in config.SETTINGS as `max_answers_per_day`).
MAX_ANSWERS_PER_DAY = 5
ONCE_A_DAY = ("help", "token_invalid")  # explanations: at most one of each kind per address per day
UNRECOGNISED_SENDER = "expéditeur non reconnu"
# Addresses nobody reads: answering them only feeds robots.
_UNANSWERABLE_LOCAL = re.compile(
    r"^(no-?reply|ne-?pas-?repondre|nepasrepondre|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+._-]|$)",
    re.IGNORECASE,
)

Route = Callable[[Session, Config, InboundMessage, Classification], None]



# --- composition -------------------------------------------------------------------------------------

def route(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """Record the classification on `inbound`, resolve its form, and run the route for its kind."""
    earlier = earlier_copy(session, inbound) if classification.kind != "own" else None
    _reset(inbound)  # after the query: nothing to flush yet
    if earlier is not None:
        classification = Classification(
            "duplicate", f"même Message-ID que le message n° {earlier}, déjà traité : ignoré",
            {"auto": True, "original_id": earlier},
        )
    elif classification.kind == "reply":
        tie = find_form(session, config, classification.details, several=True)
        if tie.problem:
            classification = Classification("invalid_token", tie.reason,
                                            {**classification.details, "problem": tie.problem})
        else:
            tie_inbound(session, inbound, tie, mark_replied=True)
    inbound.kind = classification.kind
    inbound.reason = classification.reason
    inbound.details = dict(classification.details)
    ROUTES[classification.kind](session, config, inbound, classification)


def _reset(inbound: InboundMessage) -> None:
    """A reprocessed message starts from nothing but its bytes."""
    inbound.kind = inbound.reason = inbound.details = inbound.error = None
    inbound.collectivite_id = inbound.campaign_id = inbound.answered_outbound_id = None
    inbound.trusted = inbound.flag = inbound.parse_state = None


def earlier_copy(session: Session, inbound: InboundMessage) -> int | None:
    """Another message with this Message-ID already handled (content altered in transit)."""
    if not inbound.message_id:
        return None
    # Filtered here rather than in SQL: on the state index, SQLite would scan every message done.
    copies = session.execute(
        select(InboundMessage.id, InboundMessage.state, InboundMessage.kind)
        .where(InboundMessage.message_id == inbound.message_id).order_by(InboundMessage.id)
    ).all()
    return next((row.id for row in copies
                 if row.id != inbound.id and row.state == "done" and row.kind != "duplicate"), None)


# --- forms and trust -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FormTie:
    """The form a message refers to, or the problem that prevents tying it to one."""

    problem: str | None  # None | missing | invalid | expired | mismatch
    reason: str
    outbound: OutboundMessage | None = None
    campaign: Campaign | None = None
    collectivite: Collectivite | None = None
    several: bool = False  # references of several collectivités (accepted for a reply: see find_form)


PROBLEM_REASONS = {
    "missing": "aucune référence de formulaire",
    "invalid": "référence de formulaire invalide ou altérée",
    "expired": "référence d'une campagne close",
    "mismatch": "références de plusieurs collectivités différentes",
}


def find_form(session: Session, config: Config, details: dict, *, several: bool = False) -> FormTie:
    """Verify every reference a message carries; plus-address tokens first, then the text, then the
    thread headers (our Message-ID → the token stored with that message).

    Valid references of several collectivités are a `mismatch`, unless `several` is set: a reply may
    carry the forms of several collectivités (one agent answering for two). The message is then tied
    to the first open one, only as its envelope: `mailbot.understand` ties each form to a collectivité
    through that form's own token, and nothing else in the message changes anyone."""
    refs = [FormReference(int(mid), str(mac)) for mid, mac in details.get("address_tokens", []) + details.get("body_tokens", [])]
    for msgid in details.get("thread_ids", []):
        token = session.scalar(select(OutboundMessage.token).where(OutboundMessage.message_id == msgid))
        refs += find_tokens(token or "")
    valid: list[tuple[OutboundMessage, Campaign, Collectivite]] = []
    for ref in refs:
        found = _verified(session, config, ref)
        if found and all(found[0].id != v[0].id for v in valid):
            valid.append(found)
    if not valid:
        problem = "invalid" if refs else "missing"
        return FormTie(problem, PROBLEM_REASONS[problem])
    mixed = len({coll.id for _, _, coll in valid}) > 1
    if mixed and not several:
        names = ", ".join(sorted({coll.code for _, _, coll in valid}))
        return FormTie("mismatch", f"{PROBLEM_REASONS['mismatch']} ({names}) : aucune modification")
    if mixed:  # the envelope should be a form that can still be answered
        valid = [v for v in valid if not v[1].closed] or valid
    outbound, campaign, collectivite = valid[0]
    if campaign.closed:
        return FormTie("expired", f"{PROBLEM_REASONS['expired']} ({campaign.name})", outbound, campaign, collectivite)
    return FormTie(None, "", outbound, campaign, collectivite, several=mixed)


def _verified(session: Session, config: Config, ref: FormReference):
    outbound = session.get(OutboundMessage, ref.message_id)
    if outbound is None or outbound.campaign_id is None or outbound.collectivite_id is None:
        return None
    campaign = session.get(Campaign, outbound.campaign_id)
    collectivite = session.get(Collectivite, outbound.collectivite_id)
    if campaign is None or collectivite is None:
        return None
    if not verify(config.secret, ref, campaign.name, collectivite.code):
        return None
    return outbound, campaign, collectivite


def known_contact_id(session: Session, address: str, collectivite_id: int | None = None) -> int | None:
    """The contact whose address this is (of that collectivité when given)."""
    if not address:
        return None
    query = select(Contact.id).where(func.lower(Contact.email) == address.lower())
    if collectivite_id is not None:
        query = query.where(Contact.collectivite_id == collectivite_id)
    return session.scalar(query.order_by(Contact.id).limit(1))


def tie_inbound(session: Session, inbound: InboundMessage, tie: FormTie, *, mark_replied: bool) -> None:
    """Record the collectivité, the form answered and whether the sender is one of its contacts."""
    inbound.collectivite_id = tie.collectivite.id
    inbound.campaign_id = tie.campaign.id
    inbound.answered_outbound_id = tie.outbound.id if tie.outbound else None
    inbound.trusted = known_contact_id(session, inbound.sender, tie.collectivite.id) is not None
    inbound.flag = None if inbound.trusted else UNRECOGNISED_SENDER
    if mark_replied and not tie.several:  # with several collectivités, each form marks its own (understand)
        target = session.scalar(select(CampaignTarget).where(
            CampaignTarget.campaign_id == tie.campaign.id, CampaignTarget.collectivite_id == tie.collectivite.id))
        if target is not None and target.replied_at is None:
            target.replied_at = utcnow()


def form_of_known_contact(session: Session, address: str) -> FormTie:
    """For a command without a token: the open campaign form of the one collectivité this address is a
    contact of (the summary then goes to that known address only)."""
    ids = set(session.scalars(select(Contact.collectivite_id).where(func.lower(Contact.email) == address.lower())))
    if len(ids) != 1:
        return FormTie("missing", PROBLEM_REASONS["missing"])
    collectivite = session.get(Collectivite, ids.pop())
    row = session.execute(
        select(Campaign, CampaignTarget.summary_id)
        .join(CampaignTarget, CampaignTarget.campaign_id == Campaign.id)
        .where(CampaignTarget.collectivite_id == collectivite.id, Campaign.closed.is_(False))
        .order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(1)
    ).first()
    if row is None:
        return FormTie("missing", PROBLEM_REASONS["missing"])
    campaign, summary_id = row
    outbound = session.get(OutboundMessage, summary_id) if summary_id else None
    return FormTie(None, "", outbound, campaign, collectivite)


# --- answering ------------------------------------------------------------------------------------------

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
    _serialise_answers(session, address)
    today = utcnow().date()
    kinds = list(session.scalars(select(AnswerLog.kind).where(AnswerLog.address == address, AnswerLog.day == today)))
    if answer_kind in ONCE_A_DAY and answer_kind in kinds:
        return "explication de ce type déjà envoyée aujourd'hui à cette adresse"
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
        make_environment(), template,
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


# --- routes ------------------------------------------------------------------------------------------------

def mark_reply_pending(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """A reply tied to its form, waiting for the parser."""
    inbound.parse_state = "pending"


def explain_invalid_token(session: Session, config: Config, inbound: InboundMessage,
                          classification: Classification) -> None:
    """No change for anyone; one explanation (at most one a day). A reply to one of our messages that
    carried no form (the préfectures' circular, a question we asked) is read like any message without
    a token (mailbot.tokenless)."""
    if classification.details["problem"] == "missing":
        from mailbot.tokenless import answer_tokenless  # it builds on this module's helpers

        answer_tokenless(session, config, inbound, classification)
        return
    explain(session, config, inbound, classification.details["problem"])


def record_bounce(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """A permanent failure marks our delivery bounced and the address bouncing on its contacts.

    Only deliveries named by a VERP return path with a valid MAC are marked: anyone can write a
    « bounce » naming a contact's address, nobody else can sign our return path. A return path that
    names a message sent to several recipients marks those of its recipients the report names as
    failed (all of them only if the message had one).
    """
    details = classification.details
    if details["severity"] != "permanent":
        return  # a delay or a positive report: recorded on the message, not a failure
    outbound_ids = details.get("outbound_ids", [])
    if not details["delivery_ids"] and not outbound_ids:
        note(inbound, "effect", "rebond sans adresse de retour vérifiable : aucune adresse marquée")
        return
    deliveries = [d for d in (session.get(Delivery, i) for i in details["delivery_ids"]) if d is not None]
    for outbound_id in outbound_ids:
        deliveries += _bounced_recipients(session, outbound_id, details["permanent"])
    now = utcnow()
    why = " ".join(f"{details['status']} {details['diagnostic']}".split()) or "rebond définitif"
    marked: list[str] = []
    for delivery in deliveries:
        delivery.bounced_at = delivery.bounced_at or now
        delivery.detail = f"rebond : {why}"[:2000]
        message = delivery.message
        inbound.collectivite_id = inbound.collectivite_id or message.collectivite_id
        inbound.campaign_id = inbound.campaign_id or message.campaign_id
        session.execute(address_bouncing(delivery.recipient, f"rebond définitif (message entrant n° {inbound.id}) : {why}", now))
        marked.append(delivery.recipient)
    note(inbound, "effect", f"adresse(s) marquée(s) en échec : {', '.join(marked)}" if marked
         else "remise inconnue ou destinataire non nommé par le rapport : aucune adresse marquée")


def _bounced_recipients(session: Session, outbound_id: int, failed: list[str]) -> list[Delivery]:
    """The deliveries of one outbound message that a report names as failed; its only delivery when
    it had one (the report need not name it)."""
    deliveries = list(session.scalars(select(Delivery).where(Delivery.outbound_id == outbound_id)))
    if len(deliveries) == 1:
        return deliveries
    failed_addresses = {address.lower() for address in failed}
    return [d for d in deliveries if d.recipient.lower() in failed_addresses]


def record_only(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """Auto-replies, list and bulk mail, duplicates: kept with their reason, never answered."""


def drop_own(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    log.warning("inbound %s: our own message %s came back; dropped", inbound.id, inbound.message_id)


def record_malformed(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    inbound.state = "error"
    inbound.error = classification.reason


def keep_for_review(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """Kept for reviewers, and read for the collectivité it is about (mailbot.tokenless): a known
    contact gets their summary; a stranger writing about the Atlas gets the form of the collectivité
    their message names, or a question; other mail from strangers is not answered (their address may
    be forged: we would be sending mail to a third party)."""
    from mailbot.tokenless import answer_tokenless  # it builds on this module's helpers

    answer_tokenless(session, config, inbound, classification)


def send_help(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    answer(session, config, inbound, template="agent_help", answer_kind="help", outbound_kind="help", context={})


def resend_summary(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """FICHE: the current summary, with a fresh form, to the sender. Its collectivité comes from a valid
    token, or from the sender being a known contact of exactly one collectivité. Contact addresses are
    masked for a sender who is not a known contact."""
    tie = find_form(session, config, classification.details)
    if tie.problem == "missing":
        tie = form_of_known_contact(session, inbound.sender)
    if tie.problem:
        note(inbound, "problem", tie.problem)
        explain(session, config, inbound, tie.problem)
        return
    tie_inbound(session, inbound, tie, mark_replied=False)
    refusal = answer_refusal(session, config, inbound, "summary")
    if refusal:
        note(inbound, "answer", f"pas de réponse : {refusal}")
        return
    outbound = enqueue_current_summary(session, config, inbound, tie)
    log_answer(session, inbound, "summary", outbound)


def enqueue_current_summary(session: Session, config: Config, inbound: InboundMessage, tie: FormTie) -> OutboundMessage:
    # Imported here: the summary stage depends on the campaign rules, which the inbound path does not need.
    from mailbot.campaign import campaign_rules
    from mailbot.summary import enqueue_summary, reference_lists
    from store.queries import collectivite_records

    record = collectivite_records(session, [tie.collectivite.id])[tie.collectivite.id]
    in_reply_to, references = thread_headers(inbound)
    contact_id = known_contact_id(session, inbound.sender, tie.collectivite.id)
    return enqueue_summary(
        session, config, campaign=tie.campaign, rules=campaign_rules(tie.campaign),
        references=reference_lists(session), collectivite_id=tie.collectivite.id, record=record,
        recipients=[Recipient(inbound.sender, contact_id)], in_reply_to=in_reply_to,
        references_header=references, masked=not inbound.trusted,
    )


COMMANDS: dict[str, Route] = {"AIDE": send_help, "FICHE": resend_summary}


def run_command(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    COMMANDS[classification.details["command"]](session, config, inbound, classification)


def understand(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """The parsing stage (mailbot.understand): change sets and the acknowledgement."""
    from mailbot.understand import understand_reply  # it builds on this module's helpers

    understand_reply(session, config, inbound, classification)


ROUTES: dict[str, Route] = {
    "reply": understand,
    "invalid_token": explain_invalid_token,
    "bounce": record_bounce,
    "autoreply": record_only,
    "list": record_only,
    "bulk": record_only,
    "duplicate": record_only,
    "own": drop_own,
    "command": run_command,
    "malformed": record_malformed,
    "unknown": keep_for_review,
}
