"""The reply route: a reply tied to its form becomes pending change sets and one acknowledgement.

Stages, each pure but the last: parse (mailbot.replies.parse) → for each form: verify its token, diff
against the snapshot it answers and validate (mailbot.replies.diff) → store change sets → tell the agent
what was understood (mailbot.replies.acknowledge, template `agent_ack`).

Several forms in one message (one agent answering for two collectivités) are understood one by one:
a form counts only for the collectivité its own token names, and only the lines between its opening
line and the next opening or closing line are read for it. A form whose token does not verify
changes nothing and is explained in the acknowledgement. Trust is per collectivité: a change set
is trusted when the sender is a known contact of *its* collectivité; the message is trusted when
it is for every collectivité it changed.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.replies.acknowledge import acknowledge
from mailbot.inbound.classify import Classification
from mailbot.labels import Labels, labels_for
from mailbot.config import Config
from mailbot.replies.diff import DiffResult, ProposedChange, diff_form
from mailbot.replies.parse import ParsedForm, ParsedReply, parse_reply, parse_text
from mailbot.inbound.tie import find_form, sender_trusted, untrusted_flag
from mailbot.replies.answer import answer, explain, note
from mailbot.replies.documents import (
    attachment_lines,
    attachments_of,
    max_attachment_bytes,
    propose_apd_document,
    proposed_document_id,
)
from mailbot.tokens import find_tokens
from store.campaign_models import Campaign, CampaignTarget, Snapshot
from store.inbound_models import InboundMessage
from store.models import Collectivite
from store.review_models import Change, ChangeSet
from mailbot.outbound.campaign import campaign_rules
from mailbot.outbound.summary import reference_lists
from store.review_queries import supersede_earlier

log = logging.getLogger("mailbot.understand")

# What agents write when nothing needs changing (compared without case, accents or punctuation).
CONFIRMATIONS = (
    "ras", "r a s", "rien a signaler", "pas de changement", "pas de changements", "aucun changement",
    "aucune modification", "pas de modification", "tout est correct", "tout est exact", "tout est bon", "ok",
    "c est ok", "rien a modifier", "rien a changer", "fiche a jour", "fiche correcte", "valide", "je confirme",
)
_GREETINGS = re.compile(r"^(bonjour|bonsoir|madame|monsieur|cordialement|merci\w*|bien a vous|salutations"
                        r"|bonne journee|\w+ \w+$)", re.IGNORECASE)



def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def is_confirmation(note_text: str) -> bool:
    """« RAS », « Rien à signaler. Cordialement » … — a short note that says nothing needs changing."""
    lines = [fold(line) for line in note_text.splitlines() if fold(line)]
    meaningful = [line for line in lines if not _GREETINGS.match(line)]
    if not meaningful or len(" ".join(meaningful)) > 80:
        return False
    return any(line in CONFIRMATIONS or any(line.startswith(c + " ") for c in CONFIRMATIONS if len(c) > 3)
               for line in meaningful)


@dataclass
class FormOutcome:
    collectivite: Collectivite
    campaign: Campaign
    form: ParsedForm | None
    diff: DiffResult
    trusted: bool
    changeset: ChangeSet | None = None
    outbound_id: int | None = None  # the summary whose form this is


@dataclass
class Understanding:
    outcomes: list[FormOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def understand_reply(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """ROUTES["reply"]: `inbound` is already tied to the form it answers (see mailbot.inbound.route)."""
    # The worker parsed the canonical text before its transaction (mailbot.inbound.queue.analyse).
    parsed = classification.parsed or (parse_text(classification.text) if classification.text is not None
                                       else parse_reply(inbound.raw))
    result = Understanding()
    if parsed.forms:
        for form in parsed.forms:
            _understand_form(session, config, inbound, form, parsed, result, classification.diffs or {})
        _record_tie(inbound, result)
    else:
        mixed = find_form(session, config, inbound.details or {})
        if mixed.problem == "mismatch":
            _refuse_untied(session, config, inbound, mixed)
            return
        _without_form(session, inbound, parsed, result)
    proposed = _propose_document(session, inbound, parsed, result)
    inbound.parse_state = "parsed"
    note(inbound, "understood", [
        {"collectivite": o.collectivite.code, "changes": len(o.diff.changes),
         "changeset": o.changeset.id if o.changeset else None} for o in result.outcomes
    ])
    _acknowledge(session, config, inbound, parsed, result, proposed)


def _propose_document(session, inbound: InboundMessage, parsed: ParsedReply, result: Understanding):
    """A file sent with the form of one collectivité is proposed as its APD document (mailbot.replies.documents);
    with the forms of several, nothing says whose it is: it is only passed on."""
    if len(result.outcomes) != 1:
        return None
    outcome = result.outcomes[0]
    changeset = propose_apd_document(session, inbound, campaign=outcome.campaign,
                                     collectivite_id=outcome.collectivite.id, changeset=outcome.changeset,
                                     trusted=outcome.trusted, note=parsed.note)
    if changeset is not None:
        outcome.changeset = changeset
    return changeset


def prepare_diffs(session: Session, config: Config, parsed: ParsedReply) -> dict[str, tuple[int, DiffResult]]:
    """Each form's diff against the snapshot its token names: token → (outbound id, diff).

    The costly part of a reply (fuzzy matching, validation), done by the worker in a read-only
    session before its write transaction (mailbot.inbound.queue); `understand_reply` uses it when the form
    still ties to the same message (snapshots and campaign rules never change)."""
    found: dict[str, tuple[int, DiffResult]] = {}
    for form in parsed.forms:
        tie = find_form(session, config, {"body_tokens": [(r.message_id, r.mac) for r in find_tokens(form.token)]})
        if tie.problem:
            continue
        snapshot = session.scalar(select(Snapshot.data).where(Snapshot.outbound_id == tie.outbound.id))
        if snapshot is not None:
            found[form.token] = (tie.outbound.id, _diff(session, tie, form, snapshot))
    return found


def _diff(session: Session, tie, form: ParsedForm, snapshot: dict) -> DiffResult:
    return diff_form(form, snapshot, campaign_rules(tie.campaign), reference_lists(session))


def _understand_form(session, config, inbound, form: ParsedForm, parsed: ParsedReply, result: Understanding,
                     prepared: dict[str, tuple[int, DiffResult]]) -> None:
    refs = find_tokens(form.token)
    tie = find_form(session, config, {"body_tokens": [(r.message_id, r.mac) for r in refs]})
    if tie.problem:
        result.problems.append("Un formulaire de votre message porte une référence invalide ou périmée : "
                               "il n'a pas été pris en compte.")
        return
    snapshot = session.scalar(select(Snapshot.data).where(Snapshot.outbound_id == tie.outbound.id))
    if snapshot is None:
        result.problems.append("Nous n'avons pas retrouvé le formulaire auquel vous répondez.")
        return
    outbound_id, diff = prepared.get(form.token, (None, None))
    if outbound_id != tie.outbound.id:
        diff = _diff(session, tie, form, snapshot)
    trusted = sender_trusted(session, inbound, tie.collectivite.id)
    outcome = FormOutcome(tie.collectivite, tie.campaign, form, diff, trusted, outbound_id=tie.outbound.id)
    target = _target(session, tie.campaign.id, tie.collectivite.id)
    now = utcnow()
    if target is not None and target.replied_at is None:
        target.replied_at = now
    if not diff.changes and not diff.problems and trusted:
        if target is not None and target.confirmed_at is None:
            target.confirmed_at = now
    else:  # changes, or a confirmation from someone who may not confirm: for reviewers
        outcome.changeset = _store_changeset(session, inbound, tie, diff, trusted, parsed.note, thread=str(tie.outbound.id))
    result.outcomes.append(outcome)


def _record_tie(inbound: InboundMessage, result: Understanding) -> None:
    """The route tied the message through its first reference; with forms of several collectivités,
    what counts is the forms understood. The message is trusted when its sender is a contact of every
    collectivité it answered for, and is filed under one of them (its address may have named another)."""
    if not result.outcomes:
        return
    inbound.trusted = all(o.trusted for o in result.outcomes)
    inbound.flag = None if inbound.trusted else untrusted_flag(inbound)
    if inbound.collectivite_id not in {o.collectivite.id for o in result.outcomes}:
        first = result.outcomes[0]
        inbound.collectivite_id, inbound.campaign_id = first.collectivite.id, first.campaign.id
        inbound.answered_outbound_id = first.outbound_id


def _refuse_untied(session, config, inbound: InboundMessage, tie) -> None:
    """References of several collectivités and no form: nothing says which one the words are about.
    As for any message that cannot be tied: no change for anyone, one explanation."""
    inbound.kind, inbound.reason = "invalid_token", tie.reason
    inbound.collectivite_id = inbound.campaign_id = inbound.answered_outbound_id = None
    inbound.trusted = inbound.flag = None
    note(inbound, "problem", tie.problem)
    explain(session, config, inbound, tie.problem)


def _without_form(session, inbound: InboundMessage, parsed: ParsedReply, result: Understanding) -> None:
    """A reply with no form: « RAS » confirms; anything else is a note for reviewers."""
    collectivite = session.get(Collectivite, inbound.collectivite_id)
    campaign = session.get(Campaign, inbound.campaign_id)
    target = _target(session, campaign.id, collectivite.id)
    trusted = bool(inbound.trusted)
    outcome = FormOutcome(collectivite, campaign, None, DiffResult(()), trusted)
    if trusted and (is_confirmation(parsed.note) or not parsed.note.strip()):
        if target is not None:
            target.confirmed_at = target.confirmed_at or utcnow()
    else:  # words for reviewers, or a confirmation from someone who is not a trusted contact
        outcome.changeset = _store_changeset(
            session, inbound, find_form_for(inbound, campaign, collectivite), DiffResult(()), trusted, parsed.note,
            thread=str(inbound.answered_outbound_id or ""),
        )
    result.outcomes.append(outcome)


@dataclass(frozen=True)
class _Tie:
    campaign: Campaign
    collectivite: Collectivite
    outbound_id: int | None


def find_form_for(inbound: InboundMessage, campaign: Campaign, collectivite: Collectivite) -> _Tie:
    return _Tie(campaign, collectivite, inbound.answered_outbound_id)


def _target(session: Session, campaign_id: int, collectivite_id: int) -> CampaignTarget | None:
    return session.scalar(select(CampaignTarget).where(
        CampaignTarget.campaign_id == campaign_id, CampaignTarget.collectivite_id == collectivite_id))


def _store_changeset(session, inbound: InboundMessage, tie, diff: DiffResult, trusted: bool, note_text: str,
                     *, thread: str) -> ChangeSet:
    """One pending set per (collectivité, reply). A later reply of the same sender to the same form
    supersedes that sender's earlier pending set; a colleague's reply never does (docs/review.md)."""
    collectivite_id = tie.collectivite.id
    thread_key = f"{tie.campaign.id}:{collectivite_id}:{thread}"
    outbound_id = getattr(tie, "outbound", None)
    changeset = ChangeSet(
        campaign_id=tie.campaign.id, collectivite_id=collectivite_id,
        outbound_id=outbound_id.id if outbound_id is not None else getattr(tie, "outbound_id", None),
        inbound_id=inbound.id, thread_key=thread_key, sender=inbound.sender or "", trusted=trusted,
        note=note_text or None, status="pending", created_at=utcnow(),
        has_errors=any(c.errors for c in diff.changes) or bool(diff.problems),
    )
    changeset.changes = [_change_row(c) for c in diff.changes]
    session.add(changeset)
    session.flush()
    supersede_earlier(session, changeset, utcnow())
    return changeset


def _change_row(change: ProposedChange) -> Change:
    return Change(
        op=change.op, entity=change.entity, ref=change.ref, parent_ref=change.parent_ref, field=change.field,
        old=change.old, new=change.new, base_version=change.base_version, errors=list(change.errors),
        matches=list(change.matches), status="pending",
    )


def _acknowledge(session, config, inbound: InboundMessage, parsed: ParsedReply, result: Understanding,
                 proposed: ChangeSet | None = None) -> None:
    """One answer for the whole message, a section per form understood (an agent answering for two
    collectivités gets one message, not two), then the forms that could not be tied."""
    if not result.outcomes:
        explain(session, config, inbound, "invalid")  # every form it carried had a bad reference
        return
    answer(session, config, inbound, template="agent_ack", answer_kind="ack", outbound_kind="ack",
           context={"sections": [_ack_section(o, _labels(session, o.campaign)) for o in result.outcomes],
                    "problems": list(result.problems),
                    "attachments": _attachments_section(session, config, inbound, proposed)})


def _attachments_section(session, config, inbound: InboundMessage, proposed: ChangeSet | None) -> list[dict]:
    """The files received, each with what became of it (its own section of the acknowledgement)."""
    campaign = session.get(Campaign, proposed.campaign_id) if proposed is not None and proposed.campaign_id else None
    return attachment_lines(attachments_of(session, inbound.id), max_attachment_bytes(config),
                            proposed_document_id(proposed), campaign.apd_editable_year if campaign else None)


def _labels(session: Session, campaign: Campaign) -> Labels:
    return labels_for(campaign_rules(campaign), reference_lists(session))


def _ack_section(outcome: FormOutcome, labels: Labels) -> dict:
    ack = acknowledge(list(outcome.diff.changes), list(outcome.diff.problems), labels)
    if not outcome.trusted:  # only a trusted contact confirms: the others' word goes to reviewers
        ack = replace(ack, confirmation=False)
    return {
        "ack": ack,
        "collectivite": {"name": outcome.collectivite.name, "code": outcome.collectivite.code},
        "trusted": outcome.trusted,
        "form_lines": list(outcome.form.lines) if outcome.form is not None and ack.errors else [],
    }
