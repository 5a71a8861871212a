"""Reviewers' decisions: approve, reject, edit, resolve conflicts, revert — the only way into the Atlas.

One transaction per change set. The set's row is written, then read FOR UPDATE, first (a row lock on
PostgreSQL, the write lock on SQLite), and only a set still `pending` is decided: two reviewers
approving the same set at once apply it once, the second is told it is already approved; a set a
later reply of its sender superseded is refused, naming the set that replaced it (docs/review.md).

Nothing the rules refuse is written: each value is checked again before it is applied
(mailbot.review.checks), and an edit to an invalid value is refused. Applying a change puts the
competing changes of other pending sets (another agent asked something else of the same field) in
conflict, naming the set applied. The bulk form leaves to a person the sets with competing changes
or, unless asked, plausibility warnings (mailbot.review.plausibility).

Conflicts: each change carries the version of its record that the agent saw. When the record has
changed since, the change is applied only if the field it touches still holds the value the agent
saw (another field moved on: a three-way merge with nothing to merge); otherwise it becomes a
*conflict* — not applied, the three values kept (as sent, as now, as asked) — and the reviewer
resolves it either way (`resolve`). Deletes and moves of a changed record are always conflicts.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from collections import defaultdict
from typing import Callable, TypeVar

from sqlalchemy import insert, inspect, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from mailbot.clock import utcnow
from mailbot.config import Config
from mailbot.replies.diff import to_jsonable
from mailbot.review.checks import VALUE_OPS, rule_errors
from mailbot.review.context import references, required_rules
from mailbot.review.plausibility import PlausibilityWarning, warnings_by_set
from mailbot.review.verdict import FINAL_STATES, OPEN_CHANGE_STATES, ReviewError, Verdict, inverse, judge, settle_status
from mailbot.rules import ReferenceLists, Rules, check_apd_year, check_record
import store.schema  # noqa: F401  (every table is known: the change tables point at campaigns and messages)
from store import apply as store_apply
from store.inbound_models import InboundMessage
from store.models import ApdAmount, Cooperation
from store.queries import campaign_target
from store.review_queries import QueueFilter, changeset_ids, competitors, rivals_of
from store.review_models import AuditEntry, Change, ChangeSet
from store.reviewer_models import Reviewer

log = logging.getLogger(__name__)

# how a closed set is named to the reviewer who tries to decide it again
CLOSED_STATES = {"approved": "approuvé", "rejected": "rejeté", "partial": "décidé en partie",
                 "confirmed": "une confirmation, sans rien à appliquer"}
DEFAULT_CONFLICT_REASON = "conflit : la valeur actuelle de l'Atlas est conservée"
RETRIES = 3
BULK_BATCH = 200
T = TypeVar("T")


@dataclass
class Outcome:
    changeset_id: int
    status: str = ""
    applied: list[int] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    conflicts: list[int] = field(default_factory=list)
    untouched: list[int] = field(default_factory=list)  # already decided by someone else, or not selected
    outdated: list[int] = field(default_factory=list)  # competing changes of other sets, now in conflict
    refused: str | None = None  # why a bulk approval left the whole set alone (French)


@dataclass
class _Loaded:
    """Records and message ids a batch of sets needs, loaded in a few queries instead of one per change."""

    rows: dict = field(default_factory=dict)  # (entity, ref) → row
    message_ids: dict = field(default_factory=dict)  # inbound id → Message-ID
    audit: list[dict] = field(default_factory=list)  # entries to write, in one INSERT for the batch

    def write_audit(self, session: Session) -> None:
        if self.audit:
            session.execute(insert(AuditEntry), self.audit)
            self.audit.clear()


# --- reviewers -------------------------------------------------------------------------------------------

def require_reviewer(config: Config, name: str | None, session: Session | None = None) -> str:
    """The reviewer's name, if it is an active reviewer account in the store (`mailbot reviewers add`,
    looked up when a `session` is given) or in the configured list; a disabled account is refused even
    when the list names it (the console and the CLI then agree on who may decide), anyone else too."""
    name = (name or config.values.get("reviewer") or "").strip()
    if not name:
        raise ReviewError("nommez le relecteur : --as NOM (ou le réglage reviewer)")
    account = session.scalar(select(Reviewer).where(Reviewer.name == name)) if session is not None else None
    if account is not None and not account.active:
        raise ReviewError(f"le compte de relecteur de {name} est désactivé : il ne peut plus décider")
    allowed = config.reviewer_names
    if account is None and name not in allowed:
        listed = ", ".join(allowed) if allowed else "aucun relecteur n'est configuré (réglage reviewers)"
        raise ReviewError(f"{name} n'est pas relecteur de cette campagne ({listed} ; ou un compte créé par "
                          "mailbot reviewers add)")
    return name


# --- transactions ----------------------------------------------------------------------------------------

def _locked_set(session: Session, changeset_id: int) -> ChangeSet:
    # A write first: the transaction holds the write lock (SQLite) or the row lock (PostgreSQL) from
    # its first statement, whatever way it began, so the status read below is the one that counts.
    session.execute(update(ChangeSet).where(ChangeSet.id == changeset_id).values(status=ChangeSet.status))
    changeset = session.scalar(
        select(ChangeSet).where(ChangeSet.id == changeset_id).with_for_update()
        .options(selectinload(ChangeSet.changes)).execution_options(populate_existing=True)
    )
    if changeset is None:
        raise ReviewError(f"aucun ensemble de modifications n° {changeset_id}")
    return changeset


def _open_set(session: Session, changeset_id: int) -> ChangeSet:
    """The set, locked, if it can still be decided; otherwise the reviewer is told why (a superseded
    set names the one that replaced it)."""
    changeset = _locked_set(session, changeset_id)
    if changeset.status != "pending":
        raise ReviewError(closed_reason(changeset))
    return changeset


def closed_reason(changeset: ChangeSet) -> str:
    """Why a set cannot be decided any more, in French (pure)."""
    if changeset.status == "superseded":
        newer = changeset.superseded_by_id
        where = (f"par l'ensemble n° {newer}, réponse plus récente du même expéditeur : examinez celui-ci "
                 f"(mailbot review show {newer})") if newer else "par une réponse plus récente du même expéditeur"
        return f"l'ensemble n° {changeset.id} a été remplacé {where} ; il ne peut plus être approuvé ni rejeté"
    state = CLOSED_STATES.get(changeset.status, changeset.status)
    who = f" par {changeset.decided_by}" if changeset.decided_by else ""
    when = f" le {changeset.decided_at:%d/%m/%Y à %H:%M}" if changeset.decided_at else ""
    return f"l'ensemble n° {changeset.id} est déjà {state}{who}{when} : il n'y a plus rien à décider"


def _in_one_transaction(sessions, work: Callable[[Session], T]) -> T:
    """Run `work` in its own transaction; a record changed under us by a concurrent approval (the
    version check of the UPDATE) rolls back and tries again, and the retry sees the conflict."""
    for attempt in range(RETRIES):
        try:
            with sessions.begin() as session:
                return work(session)
        except StaleDataError:
            if attempt == RETRIES - 1:
                raise
            log.info("a record changed during the decision; retrying")
    raise AssertionError("unreachable")


def _selected(changeset: ChangeSet, only: list[int] | None) -> list[Change]:
    if not only:
        return list(changeset.changes)
    by_id = {c.id: c for c in changeset.changes}
    strangers = [i for i in only if i not in by_id]
    if strangers:
        raise ReviewError(f"le changement n° {strangers[0]} n'appartient pas à l'ensemble n° {changeset.id}")
    return [by_id[i] for i in only]


def approve(sessions, config: Config, changeset_id: int, reviewer: str, *, only: list[int] | None = None) -> Outcome:
    """Apply the set's pending changes (or those named); refused while a chosen change has an error."""

    def work(session: Session) -> Outcome:
        changeset = _open_set(session, changeset_id)
        chosen = _selected(changeset, only)
        erroneous = _erroneous(chosen)
        if erroneous:
            raise ReviewError(
                f"le changement n° {erroneous[0].id} a une erreur ({erroneous[0].errors[0]['message']}) : "
                "corrigez-le avec `review edit` ou rejetez-le avant d'approuver")
        breaking = _breaking_rules(session, changeset, chosen)
        if breaking:
            raise ReviewError(_rules_refusal(breaking))
        loaded = _preload(session, [changeset])
        outcome = _approve_set(session, changeset, chosen, reviewer, loaded)
        _outdate_competitors(session, changeset, outcome, reviewer)
        loaded.write_audit(session)
        return outcome

    return _in_one_transaction(sessions, work)


def _outdate_competitors(session: Session, changeset: ChangeSet, outcome: Outcome, reviewer: str) -> None:
    """What was just applied settles the competing changes of other pending sets (another agent asked
    something else of the same field): each becomes a conflict that names this set, kept for the
    reviewer to resolve either way (`resolve --take asked` writes it instead)."""
    applied = set(outcome.applied)
    done = [(changeset, c) for c in changeset.changes if c.id in applied]
    for change_id, rivals in rivals_of(session, done, lock=True).items():
        change = next(c for c in changeset.changes if c.id == change_id)
        for rival in rivals:
            other = session.get(Change, rival.change_id)
            other.status, other.current = "conflict", None if change.op == "delete" else to_jsonable(change.new)
            other.reason = (f"une réponse concurrente a été appliquée à la place : ensemble n° {changeset.id} "
                            f"({changeset.sender or 'interne'}), approuvé par {reviewer}")
            session.get(ChangeSet, rival.changeset_id).has_conflicts = True
            outcome.outdated.append(rival.change_id)


def _rules_of(session: Session, changeset: ChangeSet) -> tuple[Rules, ReferenceLists]:
    return required_rules(session, changeset), references(session)


def _breaking_rules(session: Session, changeset: ChangeSet, chosen: list[Change]) -> tuple[Change, list[dict]] | None:
    """The first chosen pending change whose value the rules refuse, with the errors (review_checks).
    A revert puts back what was there and is not checked."""
    pending = [c for c in chosen if c.status == "pending" and c.op in VALUE_OPS]
    if not pending or changeset.reverts_id is not None:
        return None
    rules, references = _rules_of(session, changeset)
    for change in pending:
        errors = rule_errors(rules, references, change)
        if errors:
            return change, errors
    return None


def _rules_refusal(found: tuple[Change, list[dict]]) -> str:
    change, errors = found
    field_hint = f" --field {errors[0]['field']}" if change.op == "create" and change.entity != "apd" else ""
    reasons = " ".join(e["message"] for e in errors)
    return (f"le changement n° {change.id} écrirait une fiche que les règles refusent ({reasons}) : "
            f"corrigez-le avec `review edit {change.id}{field_hint} --value …` ou rejetez-le avant d'approuver")


def _erroneous(changes: list[Change]) -> list[Change]:
    return [c for c in changes if c.status == "pending" and c.errors]


def _approve_set(session: Session, changeset: ChangeSet, chosen: list[Change], reviewer: str,
                 loaded: _Loaded) -> Outcome:
    outcome = Outcome(changeset.id)
    for change in chosen:
        if change.status != "pending":
            outcome.untouched.append(change.id)
            continue
        _decide_one(session, changeset, change, reviewer, outcome, loaded)
    _settle(changeset, reviewer, outcome)
    if changeset.kind == "changes" and not changeset.changes and outcome.status == "approved":
        _confirm_on_review(session, changeset)
    return outcome


def _confirm_on_review(session: Session, changeset: ChangeSet) -> None:
    """A reply that changed nothing, kept for reviewers (a confirmation from someone who is not a
    trusted contact, or one with words around it): approving it is the reviewer confirming the record,
    counted in `campaign status` as a trusted contact's « RAS » is."""
    target = campaign_target(session, changeset.campaign_id, changeset.collectivite_id)
    if target is not None and target.confirmed_at is None:
        target.confirmed_at = utcnow()


def reject(sessions, config: Config, changeset_id: int, reviewer: str, reason: str, *,
           only: list[int] | None = None) -> Outcome:
    if not reason or not reason.strip():
        raise ReviewError("donnez la raison du rejet (--reason) : l'agent la lira")

    def work(session: Session) -> Outcome:
        changeset = _open_set(session, changeset_id)
        outcome = Outcome(changeset.id)
        for change in _selected(changeset, only):
            if change.status not in OPEN_CHANGE_STATES:
                outcome.untouched.append(change.id)
                continue
            _mark(change, "rejected", reviewer, reason.strip())
            outcome.rejected.append(change.id)
        _settle(changeset, reviewer, outcome, reason=reason.strip())
        return outcome

    return _in_one_transaction(sessions, work)


def resolve(sessions, config: Config, change_id: int, reviewer: str, *, take: str, reason: str | None = None) -> Outcome:
    """Settle a conflict: `take="asked"` applies the agent's value over the current one, `take="current"`
    keeps the Atlas as it is (the change is rejected, with a reason the agent reads)."""
    changeset_id = _changeset_of(sessions, change_id)

    def work(session: Session) -> Outcome:
        changeset = _open_set(session, changeset_id)
        change = next(c for c in changeset.changes if c.id == change_id)
        if change.status != "conflict":
            raise ReviewError(f"le changement n° {change_id} n'est pas en conflit (état : {change.status})")
        outcome = Outcome(changeset.id)
        if take == "current":
            _mark(change, "rejected", reviewer, reason or DEFAULT_CONFLICT_REASON)
            outcome.rejected.append(change.id)
        else:
            breaking = _breaking_rules(session, changeset, [change])
            if breaking:
                raise ReviewError(_rules_refusal(breaking))
            loaded = _preload(session, [changeset])
            _decide_one(session, changeset, change, reviewer, outcome, loaded, force=True)
            _outdate_competitors(session, changeset, outcome, reviewer)
            loaded.write_audit(session)
        _settle(changeset, reviewer, outcome)
        return outcome

    return _in_one_transaction(sessions, work)


def _changeset_of(sessions, change_id: int) -> int:
    with sessions() as session:
        found = session.scalar(select(Change.changeset_id).where(Change.id == change_id))
    if found is None:
        raise ReviewError(f"aucun changement n° {change_id}")
    return found


def _mark(change: Change, status: str, reviewer: str, reason: str | None = None) -> None:
    change.status, change.decided_by, change.decided_at = status, reviewer, utcnow()
    if reason is not None:
        change.reason = reason


def _settle(changeset: ChangeSet, reviewer: str, outcome: Outcome, *, reason: str | None = None) -> None:
    changeset.status = settle_status(c.status for c in changeset.changes)
    if changeset.kind == "message" and not changeset.changes:
        changeset.status = "read"  # an agent's message with nothing to apply: read, nothing approved
    changeset.has_conflicts = any(c.status == "conflict" for c in changeset.changes)
    changeset.has_errors = any(c.errors for c in changeset.changes if c.status == "pending")
    if reason:
        changeset.reason = reason
    if changeset.status in FINAL_STATES or changeset.status == "read":
        changeset.decided_at, changeset.decided_by = utcnow(), reviewer
    outcome.status = changeset.status


# --- applying one change ---------------------------------------------------------------------------------

def _preload(session: Session, changesets: list[ChangeSet]) -> _Loaded:
    wanted: dict[str, set[str]] = defaultdict(set)
    for changeset in changesets:
        for change in changeset.changes:
            if change.status in OPEN_CHANGE_STATES and change.op != "create":
                wanted[change.entity].add(change.ref)
    inbound_ids = {c.inbound_id for c in changesets if c.inbound_id}
    message_ids = dict(session.execute(select(InboundMessage.id, InboundMessage.message_id)
                                       .where(InboundMessage.id.in_(inbound_ids))).all()) if inbound_ids else {}
    return _Loaded(store_apply.load_many(session, wanted), message_ids)


def _decide_one(session: Session, changeset: ChangeSet, change: Change, reviewer: str, outcome: Outcome,
                loaded: _Loaded, *, force: bool = False) -> None:
    row = _record_of(session, changeset, change, loaded)
    verdict = Verdict(True) if force and (row is not None or change.op == "create") else _verdict(change, row)
    if not verdict.apply:
        change.status, change.current = "conflict", to_jsonable(verdict.current)
        change.reason = verdict.reason
        outcome.conflicts.append(change.id)
        return
    try:
        if change.op == "update" and change.entity != "reseau":
            applied, op = _write(session, changeset, change, row)  # cannot fail half-way: no savepoint needed
        else:
            with session.begin_nested():
                applied, op = _write(session, changeset, change, row)
    except store_apply.ApplyError as exc:
        change.status, change.current, change.reason = "conflict", None, str(exc)
        outcome.conflicts.append(change.id)
        return
    _mark(change, "applied", reviewer)
    change.applied_ref = applied.ref
    loaded.audit.append(dict(
        at=utcnow(), reviewer=reviewer, changeset_id=changeset.id, change_id=change.id,
        collectivite_id=changeset.collectivite_id, message_id=loaded.message_ids.get(changeset.inbound_id), op=op,
        entity=change.entity, ref=applied.ref, field=change.field, old=to_jsonable(applied.old),
        new=to_jsonable(applied.new)))
    outcome.applied.append(change.id)


def _record_of(session: Session, changeset: ChangeSet, change: Change, loaded: _Loaded):
    if change.op == "create" and change.entity == "apd" and _is_placeholder(change.ref):
        return _apd_row(session, changeset.collectivite_id, change)
    if change.op == "create":
        return None
    row = loaded.rows.get((change.entity, change.ref))
    if row is None or inspect(row).deleted or inspect(row).was_deleted:
        return None  # gone, perhaps deleted by an earlier set of the same batch
    return row if store_apply.owner_id(row) == changeset.collectivite_id else None


def _apd_row(session: Session, collectivite_id: int, change: Change) -> ApdAmount | None:
    year = _apd_year(change)
    return session.scalar(select(ApdAmount).where(ApdAmount.collectivite_id == collectivite_id,
                                                  ApdAmount.year == year))


def _apd_year(change: Change) -> int:
    if isinstance(change.new, dict):
        return int(change.new["year"])  # a deleted row put back by a revert
    return int(change.ref.rsplit("-", 1)[1])  # APD-2011: the form's block for a year without a row


def _is_placeholder(ref: str | None) -> bool:
    """References the form invents for records that do not exist yet (NOUVEAU-CONTACT#1, APD-2011)."""
    return not ref or ref.startswith(("NOUVEAU", "NOUVELLE")) or bool(re.fullmatch(r"APD-\d{4}", ref))


def _verdict(change: Change, row) -> Verdict:
    if change.op == "create" and change.entity == "apd" and row is not None and _is_placeholder(change.ref):
        current = store_apply.value_of("apd", row, change.field)
        if current is None:
            return Verdict(True)
        return Verdict(False, current, "un montant a été saisi pour cette année depuis que l'agent a vu sa fiche")
    if row is None:
        return judge(change.op, change.entity, change.field, change.old, change.base_version,
                     exists=change.op == "create", version=None, current=None)
    current = _current(change, row)
    return judge(change.op, change.entity, change.field, change.old, change.base_version, exists=True,
                 version=row.version, current=current)


def _current(change: Change, row):
    if change.op == "delete":
        return store_apply.record_state(change.entity, row)
    if change.op == "move":
        return row.kind
    return store_apply.value_of(change.entity, row, change.field)


def _write(session: Session, changeset: ChangeSet, change: Change, row) -> tuple[store_apply.Applied, str]:
    entity = change.entity
    if change.op == "update" or (change.op == "create" and entity == "apd" and row is not None):
        return store_apply.update_field(session, entity, row, change.field, change.new), "update"
    if change.op == "delete":
        return store_apply.delete(session, entity, row), "delete"
    if change.op == "move":
        return store_apply.move(session, row, change.new), "move"
    if entity == "apd" and _is_placeholder(change.ref):
        values = {"year": _apd_year(change), change.field or "amount": change.new}
    else:
        values = dict(change.new or {})
    parent = _parent(session, changeset, change) if entity == "projet" else None
    ref = None if _is_placeholder(change.ref) else change.ref
    return store_apply.create(session, entity, values, changeset.collectivite_id, parent=parent, ref=ref), "create"


def _parent(session: Session, changeset: ChangeSet, change: Change) -> Cooperation | None:
    if not change.parent_ref:
        return None
    if _is_placeholder(change.parent_ref):  # a cooperation or action created by the same reply
        created = next((c for c in changeset.changes if c.op == "create" and c.ref == change.parent_ref), None)
        if created is None or created.status != "applied" or not created.applied_ref:
            raise store_apply.ApplyError(
                f"la nouvelle fiche {change.parent_ref} dont ce projet dépend n'a pas été approuvée")
        return store_apply.load(session, "cooperation", created.applied_ref, changeset.collectivite_id)
    return store_apply.load(session, "cooperation", change.parent_ref, changeset.collectivite_id)


# --- editing before approval -----------------------------------------------------------------------------

def edit(sessions, config: Config, change_id: int, reviewer: str, value: str, *, field_key: str | None = None) -> Change:
    """Correct the value a change asks for, validated by the campaign's rules; the agent's value is kept.
    A value the rules refuse is refused (ReviewError), and the change keeps the value it had."""
    changeset_id = _changeset_of(sessions, change_id)
    with sessions.begin() as session:
        changeset = _open_set(session, changeset_id)
        change = next(c for c in changeset.changes if c.id == change_id)
        if change.status != "pending":
            raise ReviewError(f"le changement n° {change_id} est déjà décidé (état : {change.status})")
        if change.op in ("delete", "move"):
            raise ReviewError("une suppression ou un déplacement n'a pas de valeur à corriger : approuvez ou rejetez")
        rules, references = _rules_of(session, changeset)
        key = field_key or change.field
        if change.op == "create" and not field_key and change.entity != "apd":
            raise ReviewError("pour une création, nommez le champ à corriger : --field CLÉ")
        new_value, errors = _checked(rules, references, change, key, value)
        if errors:
            raise ReviewError(f"« {value} » est refusé pour le changement n° {change_id} : {errors[0]['message']} "
                              f"La valeur précédente est conservée : {_shown(_value_of(change, key))}.")
        if change.asked is None:
            change.asked = change.new
        if change.op == "create" and change.entity != "apd":
            change.new = {**(change.new or {}), key: new_value} if key != "_parent" else change.new
            if key == "_parent":
                change.parent_ref = value.strip().upper()
            kept = [e for e in change.errors if e.get("field") != key]
            change.errors = kept + errors
        else:
            change.new = new_value
            change.errors = errors
        change.edited_by = reviewer
        changeset.has_errors = any(c.errors for c in changeset.changes if c.status == "pending")
        session.flush()
        session.expunge(change)
        return change


def _value_of(change: Change, key: str):
    if change.op == "create" and change.entity != "apd":
        return change.parent_ref if key == "_parent" else (change.new or {}).get(key)
    return change.new


def _shown(value) -> str:
    return "aucune" if value in (None, "", []) else f"« {value} »"


def _checked(rules, references, change: Change, key: str, value: str) -> tuple[object, list[dict]]:
    if key == "_parent":
        return value.strip().upper(), []
    part = change.entity
    try:
        result = check_record(rules, part, {key: value}, references, partial=True)
    except ValueError:
        fields = ", ".join(r.key for r in rules.parts[part].fields)
        raise ReviewError(f"champ inconnu {key!r} pour {part} (champs : {fields})") from None
    errors = [{"field": e.field, "code": e.code, "message": e.message} for e in result.errors]
    if part == "apd" and change.ref.startswith("APD-") and change.op == "create":
        locked = check_apd_year(rules, _apd_year(change))
        if locked is not None:
            errors.insert(0, {"field": key, "code": locked.code, "message": locked.message})
    return to_jsonable(result.values.get(key)), errors


# --- revert ----------------------------------------------------------------------------------------------

def revert(sessions, config: Config, changeset_id: int, reviewer: str) -> Outcome:
    """Undo an approved set as a new set, applied now by `reviewer`, each change conflict-checked."""
    with sessions.begin() as session:
        original = _locked_set(session, changeset_id)
        if original.status not in ("approved", "partial"):
            raise ReviewError(f"l'ensemble n° {changeset_id} n'a rien d'appliqué à annuler (état : {original.status})")
        earlier = session.scalar(select(ChangeSet.id).where(ChangeSet.reverts_id == changeset_id,
                                                            ChangeSet.status != "rejected"))
        if earlier is not None:
            raise ReviewError(f"l'ensemble n° {changeset_id} est déjà annulé par l'ensemble n° {earlier}")
        entries = {e.change_id: e for e in session.scalars(
            select(AuditEntry).where(AuditEntry.changeset_id == changeset_id))}
        undo = [inverse(c, entries[c.id]) for c in reversed(original.changes) if c.id in entries]
        revert_set = ChangeSet(
            campaign_id=original.campaign_id, collectivite_id=original.collectivite_id,
            thread_key=f"revert:{changeset_id}", sender="", trusted=True, status="pending", created_at=utcnow(),
            note=f"annulation de l'ensemble n° {changeset_id} par {reviewer}", reverts_id=changeset_id,
            notified_at=utcnow(),  # an internal set: nobody to tell
        )
        revert_set.changes = undo
        session.add(revert_set)
        session.flush()
        new_id = revert_set.id
    return approve(sessions, config, new_id, reviewer)


# --- bulk ------------------------------------------------------------------------------------------------

# what the bulk form takes: pending sets from a recognised sender, without errors, conflicts or
# competing changes (two agents asked different things of one field: a person chooses); never an
# agent's message (a person reads it)
BULK_FILTER = QueueFilter(status="pending", trusted=True, with_errors=False, with_conflicts=False, competing=False,
                          set_kind="changes")


@dataclass
class BulkPreview:
    """What the bulk form would apply, before anything is: the sets, and the warned ones it leaves out
    (or takes, with `include_warned`) with their plausibility warnings."""

    ids: list[int] = field(default_factory=list)
    warned: dict[int, list[PlausibilityWarning]] = field(default_factory=dict)


def bulk_preview(session: Session, *, include_warned: bool = False, limit: int | None = None) -> BulkPreview:
    """The sets `BULK_FILTER` selects, oldest first, less those with a plausibility warning unless
    `include_warned` (the warnings are read in batches: a queue of thousands costs a few queries each)."""
    preview = BulkPreview()
    listed = changeset_ids(session, BULK_FILTER)
    for start in range(0, len(listed), BULK_BATCH):
        chunk = listed[start:start + BULK_BATCH]
        sets = session.scalars(select(ChangeSet).where(ChangeSet.id.in_(chunk)).options(selectinload(ChangeSet.changes)))
        warned = warnings_by_set(session, sets)
        preview.warned.update(warned)
        preview.ids += [i for i in chunk if include_warned or i not in warned]
        if limit is not None and len(preview.ids) >= limit:
            preview.ids = preview.ids[:limit]
            break
    return preview


def bulk_candidates(session: Session, *, limit: int | None = None) -> list[int]:
    """The sets the bulk form will try, as the queue's filter selects them; `bulk_approve` leaves out,
    under the lock, those with a plausibility warning (unless asked) or anything else that appeared
    since. `bulk_preview` tells in advance which would be left out for a warning."""
    return changeset_ids(session, BULK_FILTER, limit=limit)


def bulk_refusal(changeset: ChangeSet, rivals: dict, warnings: list[PlausibilityWarning]) -> str | None:
    """Why the bulk form leaves a set alone, checked again under the lock (the queue may have moved
    since the list was made); None when it may be applied whole (pure). `warnings` are the set's
    plausibility warnings that count ([] with include_warned)."""
    if changeset.status != "pending":
        return closed_reason(changeset)
    erroneous = _erroneous(list(changeset.changes))
    if erroneous:
        return f"le changement n° {erroneous[0].id} a une erreur"
    competing = [c.id for c in changeset.changes if c.id in rivals]
    if competing:
        return f"le changement n° {competing[0]} est en concurrence avec celui d'un autre ensemble : choisissez"
    if warnings:
        return f"avertissement : {warnings[0].message} (--include-warned pour l'approuver quand même)"
    return None


def bulk_approve(sessions, config: Config, reviewer: str, ids: list[int], *, batch: int = BULK_BATCH,
                 include_warned: bool = False, on_progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Approve many sets. Each set is applied whole or not at all, as `approve` does; sets are grouped
    `batch` to a transaction so thousands are not thousands of commits (a failure rolls back its group,
    which a rerun picks up again). A set that has been decided, superseded, or has gained an error, a
    competing change or (unless `include_warned`) a plausibility warning since it was listed is left
    alone, with the reason (`Outcome.refused`)."""
    outcomes: list[Outcome] = []
    for start in range(0, len(ids), batch):
        chunk = sorted(ids[start:start + batch])  # one lock order for every reviewer: no deadlock

        def work(session: Session, chunk=chunk) -> list[Outcome]:
            sets = list(session.scalars(
                select(ChangeSet).where(ChangeSet.id.in_(chunk)).order_by(ChangeSet.id).with_for_update()
                .options(selectinload(ChangeSet.changes)).execution_options(populate_existing=True)))
            rivals = competitors(session, sets)
            warned = {} if include_warned else warnings_by_set(session, sets)
            loaded = _preload(session, sets)
            done = []
            for changeset in sets:
                refusal = bulk_refusal(changeset, rivals, warned.get(changeset.id, []))
                breaking = None if refusal else _breaking_rules(session, changeset, list(changeset.changes))
                refusal = refusal or (_rules_refusal(breaking) if breaking else None)
                if refusal:
                    done.append(Outcome(changeset.id, changeset.status, untouched=[c.id for c in changeset.changes],
                                        refused=refusal))
                    continue
                done.append(_approve_set(session, changeset, list(changeset.changes), reviewer, loaded))
            loaded.write_audit(session)
            return done

        outcomes += _in_one_transaction(sessions, work)
        if on_progress:
            on_progress(len(chunk))
    return outcomes
