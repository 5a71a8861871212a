"""Routing: what happens to a classified message, kind by kind, composed in one visible place.

`route` ties replies and commands to a form through a verified token (`mailbot.inbound.tie`), then
calls `ROUTES[kind]`. Every route has the same signature, `(session, config, inbound,
classification)`, works in the caller's transaction and sends nothing itself: answers go through
`mailbot.replies.answer`, which checks loop safety. A reply is understood by
`mailbot.replies.understand`; a reply in one of our threads that is not a form is a message for a
reviewer (`mailbot.replies.conversation`); mail without a token is read by `mailbot.replies.tokenless`.
The files of mail people wrote are kept with it first (`mailbot.replies.documents`).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.inbound.classify import Classification
from mailbot.inbound.tie import FORM_KINDS, carries_a_form, find_form, find_thread, form_of_known_contact, tie_inbound
from mailbot.replies.answer import (
    answer,
    answer_refusal,
    enqueue_current_summary,
    explain,
    log_answer,
    note,
)
from mailbot.replies.conversation import record_conversation
from mailbot.replies.documents import HUMAN_KINDS, keep_attachments
from mailbot.replies.tokenless import answer_tokenless
from mailbot.replies.understand import understand_reply
from store.campaign_models import Delivery, OutboundMessage
from store.inbound_models import InboundMessage
from store.queries import address_bouncing

log = logging.getLogger("mailbot.pipeline")

Route = Callable[[Session, Config, InboundMessage, Classification], None]
THREAD_LABELS = {"ack": "accusé de réception", "decision": "avis de décision", "reviewer_reply": "réponse d'un relecteur",
                 "question": "question", "explanation": "explication", "help": "aide", "circular": "circulaire"}


# --- composition -------------------------------------------------------------------------------------

def route(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """Record the classification on `inbound`, resolve its form, and run the route for its kind."""
    earlier = earlier_copy(session, inbound) if classification.kind != "own" else None
    _reset(inbound)  # after the query: nothing to flush yet
    inbound.details = dict(classification.details)  # trust reads the authentication verdict in it
    if earlier is not None:
        classification = Classification(
            "duplicate", f"même Message-ID que le message n° {earlier}, déjà traité : ignoré",
            {"auto": True, "original_id": earlier},
        )
    elif classification.kind == "reply":
        classification = carried(classification, tie_reply(session, config, inbound, classification))
    inbound.kind = classification.kind
    inbound.reason = classification.reason
    inbound.details = dict(classification.details)
    if classification.kind in HUMAN_KINDS:
        kept = keep_attachments(session, config, inbound, classification.files)
        if kept:
            note(inbound, "attachments", [row.id for row in kept])
    ROUTES[classification.kind](session, config, inbound, classification)


def tie_reply(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> Classification:
    """A reply is tied to the form its tokens name — unless it answers, without a form of its own, one of
    our messages that was not a form (an acknowledgement, a decision notice, a reviewer's answer): it
    is then a message in a conversation, for a reviewer to read. A reply whose tokens cannot be
    verified but whose thread is ours is read the same way rather than refused."""
    details = classification.details
    thread = find_thread(session, details)
    if thread is not None and thread.kind not in FORM_KINDS and not carries_a_form(session, config, details):
        return in_conversation(thread, details)
    tie = find_form(session, config, details, several=True)
    if not tie.problem:
        tie_inbound(session, inbound, tie, mark_replied=True)
        return classification
    if thread is not None and tie.problem in ("missing", "invalid"):
        return in_conversation(thread, details)
    return Classification("invalid_token", tie.reason, {**details, "problem": tie.problem})


def carried(analysed: Classification, routed: Classification) -> Classification:
    """The routed classification with what the worker read before its transaction (text, reply,
    diffs, identification, files): a reply turned into a conversation is still that message."""
    return replace(routed, text=analysed.text, parsed=analysed.parsed, diffs=analysed.diffs,
                   scan=analysed.scan, files=analysed.files)


def in_conversation(thread: OutboundMessage, details: dict) -> Classification:
    label = THREAD_LABELS.get(thread.kind, "message")
    return Classification("conversation", f"réponse à notre {label} (message sortant n° {thread.id}) : message à lire",
                          {**details, "thread_outbound_id": thread.id})


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


# --- routes ------------------------------------------------------------------------------------------------

def mark_reply_pending(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """A reply tied to its form, waiting for the parser."""
    inbound.parse_state = "pending"


def explain_invalid_token(session: Session, config: Config, inbound: InboundMessage,
                          classification: Classification) -> None:
    """No change for anyone; one explanation (at most one a day). A reply to one of our messages that
    carried no form (the préfectures' circular, a question we asked) is read like any message without
    a token (mailbot.replies.tokenless)."""
    if classification.details["problem"] == "missing":
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


def record_too_complex(session: Session, config: Config, inbound: InboundMessage,
                       classification: Classification) -> None:
    """Past the limits or the CPU budget (mailbot.budget): kept for reviewers, the sender told once a
    day in French (never a robot: `answer_refusal`)."""
    inbound.flag = "trop complexe pour une lecture automatique"
    answer(session, config, inbound, template="agent_too_complex", answer_kind="too_complex",
           outbound_kind="explanation", context={"reason": str(classification.details.get("error", ""))[:200]})


def keep_for_review(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """Kept for reviewers, and read for the collectivité it is about (mailbot.replies.tokenless): a known
    contact gets their summary; a stranger writing about the Atlas gets the form of the collectivité
    their message names, or a question; other mail from strangers is not answered (their address may
    be forged: we would be sending mail to a third party)."""
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


COMMANDS: dict[str, Route] = {"AIDE": send_help, "FICHE": resend_summary}


def run_command(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    COMMANDS[classification.details["command"]](session, config, inbound, classification)


def understand(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """The parsing stage (mailbot.replies.understand): change sets and the acknowledgement."""
    understand_reply(session, config, inbound, classification)


ROUTES: dict[str, Route] = {
    "reply": understand,
    "conversation": record_conversation,  # a message in one of our threads, for a reviewer (mailbot.replies.conversation)
    "invalid_token": explain_invalid_token,
    "bounce": record_bounce,
    "autoreply": record_only,
    "list": record_only,
    "bulk": record_only,
    "duplicate": record_only,
    "own": drop_own,
    "command": run_command,
    "malformed": record_malformed,
    "too_complex": record_too_complex,
    "unknown": keep_for_review,
}
