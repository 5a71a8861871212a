"""Plausibility warnings of change sets, as the console shows them (set page, bulk preview).

The rules live in the review core (`mailbot.review.plausibility`, warnings defined as data in the
rules file); this module only reads them, so the console, `review show` and the CLI bulk form warn
about exactly the same sets.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mailbot.review.plausibility import PlausibilityWarning, plausibility_warnings, warnings_by_set
from store.review_models import ChangeSet

Warning = PlausibilityWarning  # one warning on one change: change_id, code, French message
BATCH = 500  # sets loaded at once for the bulk preview


def set_warnings(session: Session, set_id: int) -> list[PlausibilityWarning]:
    """The plausibility warnings of one change set, in the changes' order ([] for an unknown id)."""
    return plausibility_warnings(session, set_id)


def warned_sets(session: Session, ids: list[int]) -> dict[int, list[PlausibilityWarning]]:
    """set id → warnings, for those of `ids` that have some (read in batches of a few queries)."""
    found: dict[int, list[PlausibilityWarning]] = {}
    for start in range(0, len(ids), BATCH):
        sets = session.scalars(select(ChangeSet).where(ChangeSet.id.in_(ids[start:start + BATCH]))
                               .options(selectinload(ChangeSet.changes)))
        found.update(warnings_by_set(session, sets))
    return found
