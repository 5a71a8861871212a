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

import dataclasses
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.inbound.classify import Classification
from mailbot.inbound.tie import find_form, sender_trusted, untrusted_flag
from mailbot.outbound.campaign import campaign_rules
from mailbot.outbound.form import form_labels
from mailbot.outbound.summary import reference_lists
from mailbot.replies.acknowledge import acknowledge_stored
from mailbot.replies.answer import answer, explain, note
from mailbot.replies.documents import (
    attachment_lines,
    attachments_of,
    max_attachment_bytes,
    propose_apd_document,
    proposed_document_id,
)
from mailbot.replies.diff import DiffResult, ProposedChange, diff_form
from mailbot.replies.parse import ParsedForm, ParsedReply, parse_text, text_lines, without_lines
from mailbot.replies.words import CONFIRMATION, WORDS, Reading, read_words
from mailbot.tokens import find_tokens
from store.campaign_models import Campaign, CampaignTarget, OutboundMessage, Snapshot
from store.inbound_models import InboundMessage
from store.models import Collectivite
from store.review_models import Change, ChangeSet
from store.queries import campaign_target
from store.review_queries import supersede_earlier

log = logging.getLogger("mailbot.understand")


@dataclass
class FormOutcome:
    collectivite: Collectivite
    campaign: Campaign
    form: ParsedForm | None
    diff: DiffResult
    trusted: bool
    changeset: ChangeSet | None = None
    outbound_id: int | None = None  # the summary whose form this is
    confirmed: bool = False  # this message counted the collectivité as confirmed


@dataclass
class Understanding:
    outcomes: list[FormOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def understand_reply(session: Session, config: Config, inbound: InboundMessage, classification: Classification) -> None:
    """ROUTES["reply"]: `inbound` is already tied to the form it answers (see mailbot.inbound.route).

    The agent's own words decide with the forms: an untouched form, or no form, is a confirmation
    only when the words say nothing but courtesy or a confirmation (mailbot.replies.words); words beyond
    that always make a set for reviewers, even with no change."""
    # The worker parsed the canonical text before its transaction (mailbot.inbound.queue.analyse);
    # read again here with the rules' labels of the campaign the message is tied to.
    parsed = classification.reading(inbound.raw)
    envelope = session.get(Campaign, inbound.campaign_id) if inbound.campaign_id else None
    if envelope is not None:
        parsed = parse_text(parsed.text, form_labels(campaign_rules(envelope)), list(parsed.problems))
    parsed = dataclasses.replace(parsed, note=without_lines(parsed.note, _our_lines(session, inbound, parsed)))
    reading = read_words(parsed.note)
    result = Understanding()
    if parsed.forms:
        for form in parsed.forms:
            _understand_form(session, config, inbound, form, parsed, reading, result, classification.diffs or {})
        _record_tie(inbound, result)
    else:
        mixed = find_form(session, config, inbound.details or {})
        if mixed.problem == "mismatch":
            _refuse_untied(session, config, inbound, mixed)
            return
        _without_form(session, inbound, parsed, reading, result)
    proposed = _propose_document(session, inbound, parsed, result)
    inbound.parse_state = "parsed"
    note(inbound, "words", {"kind": reading.kind, "text": reading.words})
    note(inbound, "understood", [
        {"collectivite": o.collectivite.code, "collectivite_id": o.collectivite.id, "campaign_id": o.campaign.id,
         "outbound_id": o.outbound_id, "changes": len(o.diff.changes), "trusted": o.trusted,
         "changeset": o.changeset.id if o.changeset else None, "confirmed": o.confirmed,
         "problems": [p["message"] for p in o.diff.problems]} for o in result.outcomes
    ])
    note(inbound, "unread_forms", list(result.problems))
    session.flush()
    _acknowledge(session, config, inbound, {o.collectivite.id: o.form for o in result.outcomes}, proposed)


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


def _our_lines(session: Session, inbound: InboundMessage, parsed: ParsedReply) -> frozenset[str]:
    """The lines of the messages of ours this reply answers (its thread's, its forms'): what the agent
    pasted of them is not their words."""
    ids = {inbound.answered_outbound_id} | {ref.message_id for form in parsed.forms for ref in find_tokens(form.token)}
    ids = sorted(i for i in ids if i is not None)[:MAX_OURS]
    lines: set[str] = set()
    for raw in session.scalars(select(OutboundMessage.raw).where(OutboundMessage.id.in_(ids))):
        lines |= text_lines(raw)
    return frozenset(lines)


MAX_OURS = 10


def prepare_diffs(session: Session, config: Config, parsed: ParsedReply) -> dict[str, tuple[int, DiffResult]]:
    """Each form's diff against the snapshot its token names: token → (outbound id, diff).

    The costly part of a reply (fuzzy matching, validation), done by the worker in a read-only
    session before its write transaction (mailbot.inbound.queue); `understand_reply` uses it when the form
    still ties to the same message (snapshots and campaign rules never change). Each form is read with
    its campaign's labels, as `understand_reply` reads it."""
    found: dict[str, tuple[int, DiffResult]] = {}
    for form in parsed.forms:
        tie = find_form(session, config, {"body_tokens": [(r.message_id, r.mac) for r in find_tokens(form.token)]})
        if tie.problem:
            continue
        snapshot = session.scalar(select(Snapshot.data).where(Snapshot.outbound_id == tie.outbound.id))
        if snapshot is not None:
            rules = campaign_rules(tie.campaign)
            found[form.token] = (tie.outbound.id, diff_form(_labelled(parsed, form, rules), snapshot, rules,
                                                            reference_lists(session)))
    return found


def _labelled(parsed: ParsedReply, form: ParsedForm, rules) -> ParsedForm:
    """`form` as the rules' labels read it (prose with a colon is not a field)."""
    return next((f for f in parse_text(parsed.text, form_labels(rules)).forms if f.token == form.token), form)


def _understand_form(session, config, inbound, form: ParsedForm, parsed: ParsedReply, reading: Reading,
                     result: Understanding, prepared: dict[str, tuple[int, DiffResult]]) -> None:
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
    rules = campaign_rules(tie.campaign)
    if tie.campaign.id != inbound.campaign_id:  # read again with this form's own campaign labels
        form = _labelled(parsed, form, rules)
    outbound_id, diff = prepared.get(form.token, (None, None))
    if outbound_id != tie.outbound.id:
        diff = diff_form(form, snapshot, rules, reference_lists(session))
    trusted = sender_trusted(session, inbound, tie.collectivite.id)
    outcome = FormOutcome(tie.collectivite, tie.campaign, form, diff, trusted, outbound_id=tie.outbound.id)
    target = campaign_target(session, tie.campaign.id, tie.collectivite.id)
    now = utcnow()
    if target is not None and target.replied_at is None:
        target.replied_at = now
    if not diff.changes and not diff.problems and reading.kind != WORDS and trusted:
        outcome.confirmed = _confirm(target, now)
    else:  # changes, words for reviewers, or a confirmation from someone who may not confirm
        outcome.changeset = _store_changeset(session, inbound, tie, diff, trusted, parsed.note, thread=str(tie.outbound.id))
    result.outcomes.append(outcome)


def _confirm(target: CampaignTarget | None, now) -> bool:
    """Count the collectivité as confirmed (campaign status); False when there is nothing to count it on."""
    if target is None:
        return False
    target.confirmed_at = target.confirmed_at or now
    return True


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


def _without_form(session, inbound: InboundMessage, parsed: ParsedReply, reading: Reading, result: Understanding) -> None:
    """A reply with no form: only a confirmation phrase with nothing else to say confirms (« RAS »,
    « Rien à signaler, merci » and a signature); anything else is a set for reviewers, words shown."""
    collectivite = session.get(Collectivite, inbound.collectivite_id)
    campaign = session.get(Campaign, inbound.campaign_id)
    target = campaign_target(session, campaign.id, collectivite.id)
    trusted = bool(inbound.trusted)
    outcome = FormOutcome(collectivite, campaign, None, DiffResult(()), trusted, outbound_id=inbound.answered_outbound_id)
    if reading.kind == CONFIRMATION and trusted:
        outcome.confirmed = _confirm(target, utcnow())
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


def _acknowledge(session, config, inbound: InboundMessage, forms: dict[int, ParsedForm | None],
                 proposed: ChangeSet | None = None) -> None:
    """One answer for the whole message, a section per form understood (an agent answering for two
    collectivités gets one message, not two), then the forms that could not be tied. Built from what
    was stored: the change sets as saved, the confirmations as counted, the problems as recorded on
    the inbound message."""
    understood = (inbound.details or {}).get("understood", [])
    if not understood:
        explain(session, config, inbound, "invalid")  # every form it carried had a bad reference
        return
    sections = [_ack_section(session, entry, forms.get(entry["collectivite_id"])) for entry in understood]
    answer(session, config, inbound, template="agent_ack", answer_kind="ack", outbound_kind="ack",
           context={"sections": sections, "problems": list((inbound.details or {}).get("unread_forms", [])),
                    "attachments": _attachments_section(session, config, inbound, proposed)})

def _attachments_section(session, config, inbound: InboundMessage, proposed: ChangeSet | None) -> list[dict]:
    """The files received, each with what became of it (its own section of the acknowledgement)."""
    campaign = session.get(Campaign, proposed.campaign_id) if proposed is not None and proposed.campaign_id else None
    return attachment_lines(attachments_of(session, inbound.id), max_attachment_bytes(config),
                            proposed_document_id(proposed), campaign.apd_editable_year if campaign else None)


def _ack_section(session: Session, entry: dict, form: ParsedForm | None) -> dict:
    collectivite = session.get(Collectivite, entry["collectivite_id"])
    campaign = session.get(Campaign, entry["campaign_id"])
    changeset = session.get(ChangeSet, entry["changeset"]) if entry["changeset"] else None
    target = campaign_target(session, campaign.id, collectivite.id)
    confirmed = bool(entry["confirmed"]) and target is not None and target.confirmed_at is not None
    outbound_id = changeset.outbound_id if changeset is not None else entry.get("outbound_id")
    snapshot = session.scalar(select(Snapshot.data).where(Snapshot.outbound_id == outbound_id)) if outbound_id else None
    ack = acknowledge_stored(list(changeset.changes) if changeset is not None else [], entry["problems"],
                             campaign_rules(campaign), snapshot or {}, confirmed=confirmed,
                             note=changeset.note if changeset is not None else None, references=reference_lists(session))
    return {
        "ack": ack,
        "collectivite": {"name": collectivite.name, "code": collectivite.code},
        "trusted": changeset.trusted if changeset is not None else entry.get("trusted", True),
        "changeset": changeset.id if changeset is not None else None,
        "form_lines": list(form.lines) if form is not None and ack.errors else [],
    }
