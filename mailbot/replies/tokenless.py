"""Messages without a form token: find the collectivité, then send its form, ask, or request its name.

The route for mail that carries no usable token (kind `unknown`, or a reply to one of our messages
that had no form: the circular, a question). In order:

1. an answer to a question we asked (« 2 », a code, a name) settles it;
2. a sender who is a known contact of one collectivité gets that collectivité's summary;
3. otherwise `mailbot.replies.identify` reads the message, narrowed to the préfecture's territory when the
   message comes through a circular: one confident match → the summary (contacts' addresses masked)
   and the sender proposed as a new contact for reviewers; several → a question listing at most five;
   none → a request for the name or SIREN.

Strangers are answered only when their message names a collectivité (an identifier, « Mairie de … »,
a postcode and a name), is about the Atlas, or answers us: anything else is kept for reviewers as
before, so that spam with a forged sender does not make us write to a third party. Every answer goes
through `mailbot.replies.answer` (loop safety, daily limits).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailbot import budget, grammar
from mailbot.inbound.classify import Classification
from mailbot.inbound.read import body_texts, header_text, parse_bounded
from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.replies.identify import (Directory, Entry, Identification, MessageText, CandidateScan, fold, identify,
                                      resolve_choice, scan_candidates, split_own_text)
from mailbot.inbound.tie import FormTie, known_contact_id, tie_inbound
from mailbot.replies.answer import answer, answer_refusal, enqueue_current_summary, explain, log_answer, note
from mailbot.outbound.campaign import campaign_rules
from mailbot.outbound.summary import reference_lists
from mailbot.review.checks import rule_errors
from store.campaign_models import Campaign, OutboundMessage
from store.inbound_models import InboundMessage
from store.models import Collectivite, Contact, Prefecture
from store.prefecture_models import Circular
from store.review_models import Change, ChangeSet

log = logging.getLogger("mailbot.tokenless")

QUESTION_TTL = timedelta(days=30)  # an unanswered question is forgotten after this
# An identifier, a named body or a postcode with a name: the message is about a collectivité even if
# it never says « Atlas ». A signature line or a mail domain alone is not enough to write to a stranger.
NAMED_SCORE = 92
MAX_TEXT = 200_000
_PREFECTURE_REF = re.compile(r"\bPF-[0-9A-HJKMNP-TV-Z]{6}\b")
_ABOUT_THE_ATLAS = ("atlas", "fiche", "cooperation", "circulaire", "mise a jour", "mettre a jour", "collectivite",
                    "formulaire", "siren", "jumelage")


# --- reading the message -------------------------------------------------------------------------------------

def message_text(raw: bytes, subject: str, sender: str) -> MessageText:
    """The author's own words, and what they forwarded (inline after a marker, quoted, or attached)."""
    message = parse_bounded(raw)
    texts = body_texts(message, MAX_TEXT)
    own, forwarded = split_own_text(texts[0] if texts else "")
    attached = [text for part in message.walk() if part.get_content_type() == "message/rfc822"
                for inner in (part.get_payload() or []) for text in body_texts(inner, MAX_TEXT)]
    attached_subjects = [header_text(inner.get("Subject", "") or "") for part in message.walk()
                         if part.get_content_type() == "message/rfc822" for inner in (part.get_payload() or [])]
    return MessageText(own=own, forwarded="\n".join([forwarded, *attached_subjects, *attached]).strip(),
                       subject=subject or "", sender=sender or "")


def scan_message(session: Session, raw: bytes, subject: str, sender: str) -> CandidateScan:
    """The message's text and every collectivité it names: the CPU work of this route, which the
    inbound worker does in a read-only session before its write transaction (mailbot.inbound.queue)."""
    return scan_candidates(message_text(raw, subject, sender), load_directory(session))


def about_the_atlas(text: MessageText) -> bool:
    folded = fold(f"{text.subject} {text.own} {text.forwarded[:5000]}")
    return any(word in folded for word in _ABOUT_THE_ATLAS)


# --- where it comes from -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    """What the message tells of its route: the préfecture whose circular it forwards, the campaign."""

    prefecture: Prefecture | None = None
    campaign: Campaign | None = None
    sender_is_prefecture: bool = False

    @property
    def territory(self) -> tuple[str, ...]:
        return (self.prefecture.departement,) if self.prefecture else ()


def find_origin(session: Session, text: MessageText, thread_ids: list[str]) -> Origin:
    """The circular this message answers (thread headers), or the préfecture it names: the circular's
    reference (`PF-…`), a préfecture's address, or its name in the forwarded part; or the sender."""
    if thread_ids:
        row = session.execute(
            select(Prefecture, Campaign).join(Circular, Circular.prefecture_id == Prefecture.id)
            .join(Campaign, Campaign.id == Circular.campaign_id)
            .join(OutboundMessage, OutboundMessage.id == Circular.outbound_id)
            .where(OutboundMessage.message_id.in_(thread_ids)).limit(1)
        ).first()
        if row is not None:
            return Origin(row[0], row[1], _is_prefecture(session, text.sender))
    whole = f"{text.subject}\n{text.forwarded}\n{text.own}"
    refs = _PREFECTURE_REF.findall(whole)
    prefecture = session.scalar(select(Prefecture).where(Prefecture.ref.in_(refs)).limit(1)) if refs else None
    sender_prefecture = _is_prefecture(session, text.sender)
    if prefecture is None:
        prefecture = sender_prefecture or _named_prefecture(session, whole)
    return Origin(prefecture, None, sender_prefecture is not None)


def _is_prefecture(session: Session, address: str) -> Prefecture | None:
    if not address:
        return None
    return session.scalar(select(Prefecture).where(func.lower(Prefecture.email) == address.lower()).limit(1))


def _named_prefecture(session: Session, text: str) -> Prefecture | None:
    lowered = text.lower()
    folded = f" {fold(text)} "
    for prefecture in session.scalars(select(Prefecture).order_by(Prefecture.departement)):
        if prefecture.email.lower() in lowered or f" {fold(prefecture.name)} " in folded:
            return prefecture
    return None


def open_campaign(session: Session) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.closed.is_(False))
                          .order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(1))


# --- the reference data ------------------------------------------------------------------------------------

_DIRECTORY_CACHE: dict[tuple, Directory] = {}


def load_directory(session: Session) -> Directory:
    """Every collectivité of the reference data, indexed; cached while the table is unchanged (reading
    and indexing 36,000 rows for each message would dominate the work)."""
    signature = (str(session.get_bind().url), *session.execute(
        select(func.count(), func.max(Collectivite.id), func.sum(Collectivite.version),
               func.count().filter(Collectivite.in_atlas.is_(True)))
    ).one())
    if signature not in _DIRECTORY_CACHE:
        with budget.exempt():  # built once for every message, not the cost of the one that needs it first
            entries = [Entry(*row) for row in session.execute(
                select(Collectivite.id, Collectivite.code, Collectivite.kind, Collectivite.name, Collectivite.insee,
                       Collectivite.siren, Collectivite.departement, Collectivite.region, Collectivite.in_atlas,
                       Collectivite.population, Collectivite.epci_type).order_by(Collectivite.id))]
            names = {e.insee: e.name for e in entries if e.kind == "departement"}
            _DIRECTORY_CACHE.clear()
            _DIRECTORY_CACHE[signature] = Directory(entries, names)
    return _DIRECTORY_CACHE[signature]


# --- the pending question ------------------------------------------------------------------------------------

def pending_question(session: Session, inbound: InboundMessage, thread_ids: list[str]) -> InboundMessage | None:
    """The message whose question this one answers: by the thread headers, else the latest unsettled
    question to the same address (an agent may write a new message instead of replying)."""
    query = (select(InboundMessage).join(OutboundMessage, OutboundMessage.id == InboundMessage.response_outbound_id)
             .where(OutboundMessage.kind == "question", InboundMessage.id != inbound.id)
             .order_by(InboundMessage.id.desc()))
    if thread_ids:
        found = session.scalar(query.where(OutboundMessage.message_id.in_(thread_ids)).limit(1))
        if found is not None:
            return found
    for earlier in session.scalars(query.where(func.lower(InboundMessage.sender) == (inbound.sender or "").lower(),
                                               OutboundMessage.created_at >= utcnow() - QUESTION_TTL).limit(5)):
        if (earlier.details or {}).get("identify", {}).get("state") == "asked":
            return earlier
    return None


def settle(question: InboundMessage, inbound: InboundMessage) -> None:
    state = dict((question.details or {}).get("identify", {}))
    question.details = {**(question.details or {}), "identify": {**state, "state": "settled", "settled_by": inbound.id}}


# --- the route ---------------------------------------------------------------------------------------------------

def answer_tokenless(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """See the module's docstring. Works in the caller's transaction, like every route."""
    thread_ids = list(classification.details.get("thread_ids", []))
    scan = classification.scan
    text = scan.text if scan is not None else message_text(inbound.raw, inbound.subject, inbound.sender)
    origin = find_origin(session, text, thread_ids)
    campaign = origin.campaign if origin.campaign is not None and not origin.campaign.closed else open_campaign(session)
    if campaign is None:
        note(inbound, "identify", {"state": "no_campaign"})
        if known_contact_id(session, inbound.sender) is not None:
            explain(session, config, inbound, "missing")
        return
    directory = load_directory(session)
    question = pending_question(session, inbound, thread_ids)
    if question is not None:
        proposed = [directory.by_code[c] for c in question.details["identify"].get("candidates", [])
                    if c in directory.by_code]
        chosen = resolve_choice(text, proposed, directory) if proposed else None
        if chosen is None:
            chosen = identify(text, directory, origin.territory, scan=scan).chosen
        if chosen is not None:
            settle(question, inbound)
            send_identified(session, config, inbound, campaign, chosen, f"réponse au message n° {question.id}")
            return
        if proposed:
            ask(session, config, inbound, campaign, directory, proposed, origin)
            return
    own = _known_collectivites(session, inbound.sender, directory)
    if len(own) == 1:
        send_identified(session, config, inbound, campaign, own[0], "expéditeur contact connu")
        return
    if own:
        within = identify(text, directory.restricted(own))
        if within.chosen is not None:
            send_identified(session, config, inbound, campaign, within.chosen, "expéditeur contact connu")
        else:
            ask(session, config, inbound, campaign, directory, own[:5], origin)
        return
    found = identify(text, directory, origin.territory, scan=scan)
    record(inbound, found, directory, origin)
    named = any(c.score >= NAMED_SCORE for c in found.candidates)
    if not (named or question is not None or origin.prefecture is not None or about_the_atlas(text)):
        return  # a stranger's mail that is not about the Atlas: kept for reviewers, unanswered
    if found.outcome == "one":
        send_identified(session, config, inbound, campaign, found.chosen, found.candidates[0].evidence,
                        propose=not origin.sender_is_prefecture)
    elif found.outcome == "several":
        ask(session, config, inbound, campaign, directory, [c.entry for c in found.candidates], origin)
    elif origin.sender_is_prefecture:
        note(inbound, "answer", "pas de réponse : message d'une préfecture, conservé pour les relecteurs")
    else:
        _answer(session, config, inbound, "agent_identify_request", "identify_request", {},
                {"state": "asked", "candidates": [], "campaign_id": campaign.id})


def _known_collectivites(session: Session, address: str, directory: Directory) -> list[Entry]:
    if not address:
        return []
    ids = set(session.scalars(select(Contact.collectivite_id).where(func.lower(Contact.email) == address.lower())))
    return sorted((e for e in directory.entries if e.id in ids), key=lambda e: e.code)


def record(inbound: InboundMessage, found: Identification, directory: Directory, origin: Origin) -> None:
    """What identification found, for reviewers (`inbox show`)."""
    note(inbound, "identify", {
        "outcome": found.outcome,
        "candidates": [{"code": c.entry.code, "score": round(c.score, 1), "evidence": c.evidence}
                       for c in found.candidates],
        "territory": list(found.territory),
        "prefecture": origin.prefecture.ref if origin.prefecture else None,
    })


def send_identified(session: Session, config: Config, inbound: InboundMessage, campaign: Campaign, entry: Entry,
                    evidence: str, *, propose: bool = True) -> None:
    """The collectivité's current summary to the sender (addresses masked unless they are one of its
    contacts), and a stranger proposed as its new contact."""
    collectivite = session.get(Collectivite, entry.id)
    tie = FormTie(None, "", None, campaign, collectivite)
    tie_inbound(session, inbound, tie, mark_replied=False)
    note(inbound, "identified", {"code": entry.code, "evidence": evidence, "trusted": bool(inbound.trusted)})
    summary = None
    refusal = answer_refusal(session, config, inbound, "summary")
    if refusal:
        note(inbound, "answer", f"pas de réponse : {refusal}")
    else:
        summary = enqueue_current_summary(session, config, inbound, tie)
        log_answer(session, inbound, "summary", summary)
    if propose and not inbound.trusted:
        propose_contact(session, inbound, campaign, collectivite, summary, evidence)


def ask(session: Session, config: Config, inbound: InboundMessage, campaign: Campaign, directory: Directory,
        candidates: list[Entry], origin: Origin) -> None:
    if origin.sender_is_prefecture:
        note(inbound, "answer", "pas de réponse : message d'une préfecture, conservé pour les relecteurs")
        return
    shown = candidates[:5]
    _answer(session, config, inbound, "agent_identify_question", "identify_question",
            {"candidates": [directory.label(e) for e in shown]},
            {"state": "asked", "candidates": [e.code for e in shown], "campaign_id": campaign.id})


def _answer(session, config, inbound: InboundMessage, template: str, answer_kind: str, context: dict,
            question: dict) -> None:
    outbound = answer(session, config, inbound, template=template, answer_kind=answer_kind,
                      outbound_kind="question", context=context)
    if outbound is not None:
        found = (inbound.details or {}).get("identify", {})
        note(inbound, "identify", {**found, **question})


# --- the proposed contact -----------------------------------------------------------------------------------

def propose_contact(session: Session, inbound: InboundMessage, campaign: Campaign, collectivite: Collectivite,
                    summary: OutboundMessage | None, evidence: str) -> ChangeSet | None:
    """A pending change set creating the sender as a contact of the collectivité, for reviewers to
    approve or reject (never applied on the sender's word). One pending proposal per address."""
    address = (inbound.sender or "").lower()
    thread_key = f"{campaign.id}:{collectivite.id}:contact:{address}"[:100]
    if session.scalar(select(ChangeSet.id).where(ChangeSet.thread_key == thread_key, ChangeSet.status == "pending")):
        return None
    first, last = split_display_name(inbound.from_header or "", address)
    proposed = Change(op="create", entity="contact", ref="NOUVEAU-CONTACT#1",
                      new={"first_name": first, "last_name": last, "title": "", "email": address},
                      matches=[], status="pending")
    # what the From header cannot give (a title, often a name) is a missing field, shown to reviewers
    # as any error is, to be completed with `review edit` before the contact can be created
    proposed.errors = rule_errors(campaign_rules(campaign), reference_lists(session), proposed)
    changeset = ChangeSet(
        campaign_id=campaign.id, collectivite_id=collectivite.id, outbound_id=summary.id if summary else None,
        inbound_id=inbound.id, thread_key=thread_key, sender=address[:254], trusted=False,
        note=(f"Message sans référence de fiche, rattaché {grammar.a(collectivite)} ({evidence}) : "
              f"l'expéditeur est proposé comme nouveau contact (titre à compléter)."),
        status="pending", has_errors=bool(proposed.errors), has_conflicts=False, created_at=utcnow(),
    )
    changeset.changes = [proposed]
    session.add(changeset)
    session.flush()
    note(inbound, "proposed_contact", changeset.id)
    return changeset


def split_display_name(from_header: str, address: str) -> tuple[str, str]:
    """« Marie DURAND <m.durand@ville.fr> » → (Marie, DURAND); without a name, the address's
    `prenom.nom` part when it has one."""
    name = header_text(parseaddr(from_header)[0] or "").strip().strip('"')
    if not name:
        local = address.partition("@")[0]
        parts = [p for p in re.split(r"[._-]", local) if p.isalpha()]
        name = " ".join(p.capitalize() for p in parts) if len(parts) == 2 else ""
    first, _, last = name.partition(" ")
    return first[:100], last[:100]
