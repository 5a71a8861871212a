"""The pure core of a decision: apply or conflict for one change, a set's status from its changes',
and the change that undoes an applied one. No session, no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from store import apply as store_apply
from store.review_models import AuditEntry, Change

FINAL_STATES = ("approved", "rejected", "partial")
OPEN_CHANGE_STATES = ("pending", "conflict")


class ReviewError(Exception):
    """A decision that cannot be made; the message (French) is shown to the reviewer as is."""


@dataclass(frozen=True)
class Verdict:
    """What to do with one change given the record as it is now (pure: `judge`)."""

    apply: bool
    current: object = None
    reason: str = ""


def judge(op: str, entity: str, field_key: str | None, old, base_version: int | None, *, exists: bool,
          version: int | None, current) -> Verdict:
    """Apply or conflict, from the change (as the agent saw the record) and the record now."""
    if op == "create":
        return Verdict(True)
    if not exists:
        return Verdict(False, None, "la fiche a été supprimée depuis que l'agent l'a vue")
    if base_version is not None and version == base_version:
        return Verdict(True, current)
    if op == "update" and store_apply.same_value(entity, field_key, current, old):
        return Verdict(True, current)  # the record moved on elsewhere; this field is as the agent saw it
    if op == "move" and current == old:
        return Verdict(True, current)
    return Verdict(False, current, "la fiche a été modifiée depuis que l'agent l'a vue")


def settle_status(change_states: Iterable[str]) -> str:
    """A set's status from its changes': open while anything is undecided, then approved/rejected/partial."""
    states = list(change_states)
    if any(s in OPEN_CHANGE_STATES for s in states):
        return "pending"
    if states and all(s == "rejected" for s in states):
        return "rejected"
    if any(s == "rejected" for s in states):
        return "partial"
    return "approved"


def inverse(change: Change, entry: AuditEntry) -> Change:
    """The change that undoes an applied one; its own conflict check compares with what was applied."""
    if entry.op == "create":
        return Change(op="delete", entity=change.entity, ref=entry.ref, old=None, base_version=1,
                      status="pending", errors=[], matches=[])
    if entry.op == "delete":
        return Change(op="create", entity=change.entity, ref=entry.ref, new=entry.old,
                      parent_ref=change.parent_ref or (entry.old or {}).get("parent_ref"),
                      status="pending", errors=[], matches=[])
    return Change(op=entry.op, entity=change.entity, ref=entry.ref, field=entry.field, old=entry.new,
                  new=entry.old, base_version=None, status="pending", errors=[], matches=[])
