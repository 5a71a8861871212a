"""A decided or superseded set cannot be approved by any path, and a race between an approval and a
superseding reply leaves exactly one of them applied (#16, point 1) — on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import mailbot.review.decide as review_core
from mailbot.cli.commands import main
from mailbot.clock import utcnow
from mailbot.config import load_config
from mailbot.review.decide import approve, bulk_approve, bulk_candidates, edit, reject
from mailbot.review.verdict import ReviewError
from store.models import Contact
from store.review_models import AuditEntry, ChangeSet
from store.review_queries import supersede_earlier
from tests.review_support import REVIEWERS, collectivite_with, contact_snapshot, make_set, update

REVIEWER = "Claire Martin"
AGENT = "marie.dupont@mairie.example.fr"


@pytest.fixture
def env(seeded_db_url, seeded_sessions):
    return load_config(environ={"MAILBOT_DB": seeded_db_url, **REVIEWERS}), seeded_sessions


def _first_reply(sessions, title: str = "Maire adjointe", *, skip=frozenset()) -> tuple[int, dict, str]:
    """A pending set from AGENT on one form: (set id, the contact as the agent saw it, thread)."""
    with sessions.begin() as session:
        coll = collectivite_with(session, skip=set(skip))
        seen = contact_snapshot(session, coll.contacts[0].ref)
        set_id = make_set(session, coll, [update("contact", seen, "title", title)], sender=AGENT)
        thread = f"form:{coll.id}:{set_id}"
        session.get(ChangeSet, set_id).thread_key = thread
    return set_id, seen, thread


def _later_reply(session, earlier_id: int, title: str, *, sender: str = AGENT) -> tuple[int, list[int]]:
    """What the reply route does with a later reply to the same form: store its set, then supersede."""
    earlier = session.get(ChangeSet, earlier_id)
    seen = {"ref": earlier.changes[0].ref, "version": earlier.changes[0].base_version, "title": earlier.changes[0].old}
    coll = earlier.collectivite_id
    later = ChangeSet(campaign_id=earlier.campaign_id, collectivite_id=coll, thread_key=earlier.thread_key,
                      sender=sender, trusted=True, status="pending", created_at=utcnow())
    later.changes = [update("contact", seen, "title", title)]
    session.add(later)
    session.flush()
    return later.id, supersede_earlier(session, later, utcnow())


def _title(sessions, ref: str) -> str:
    with sessions() as session:
        return session.scalar(select(Contact.title).where(Contact.ref == ref))


def _audit_count(sessions, set_id: int) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.changeset_id == set_id))


# --- no path approves a superseded set ----------------------------------------------------------------------

def test_a_superseded_set_cannot_be_approved_by_any_path(env, seeded_db_url):
    config, sessions = env
    old_id, seen, _ = _first_reply(sessions, "Maire adjointe")
    with sessions.begin() as session:
        new_id, superseded = _later_reply(session, old_id, "Première adjointe")
        old_change = session.get(ChangeSet, old_id).changes[0].id
    assert superseded == [old_id]
    why = f"l'ensemble n° {old_id} a été remplacé par l'ensemble n° {new_id}"
    for attempt in (lambda: approve(sessions, config, old_id, REVIEWER),
                    lambda: approve(sessions, config, old_id, REVIEWER, only=[old_change]),
                    lambda: reject(sessions, config, old_id, REVIEWER, "non"),
                    lambda: edit(sessions, config, old_change, REVIEWER, "Directrice")):
        with pytest.raises(ReviewError, match=why):
            attempt()
    with sessions() as session:
        assert old_id not in bulk_candidates(session) and new_id in bulk_candidates(session)
    [outcome] = bulk_approve(sessions, config, REVIEWER, [old_id])  # listed before it was superseded
    assert not outcome.applied and why in outcome.refused
    cli = {"MAILBOT_DB": seeded_db_url, **REVIEWERS}
    for args in (["review", "approve", str(old_id)], ["review", "approve", str(old_id), "--only", str(old_change)]):
        result = CliRunner().invoke(main, [*args, "--as", REVIEWER, "--no-send"], env=cli)
        assert result.exit_code == 1 and why in result.output, result.output
    result = CliRunner().invoke(main, ["review", "approve", "--all-trusted-without-errors", "--as", REVIEWER,
                                       "--no-send"], env=cli)
    assert result.exit_code == 0, result.output
    assert _title(sessions, seen["ref"]) == "Première adjointe"  # the newer set, applied by the bulk form
    assert _audit_count(sessions, old_id) == 0
    with sessions() as session:
        old = session.get(ChangeSet, old_id)
        assert (old.status, old.superseded_by_id, old.changes[0].status) == ("superseded", new_id, "pending")


def test_a_decided_set_is_refused_with_who_decided_it(env):
    config, sessions = env
    set_id, seen, _ = _first_reply(sessions)
    approve(sessions, config, set_id, "Paul Durand")
    with pytest.raises(ReviewError, match=f"l'ensemble n° {set_id} est déjà approuvé par Paul Durand le "):
        approve(sessions, config, set_id, REVIEWER)
    with pytest.raises(ReviewError, match="déjà approuvé"):
        reject(sessions, config, set_id, REVIEWER, "trop tard")
    assert _audit_count(sessions, set_id) == 1


# --- an approval racing a superseding reply -----------------------------------------------------------------

def _check_exactly_one(sessions, old_id: int, new_id: int, seen: dict, *, approved: bool) -> None:
    with sessions() as session:
        old, new = session.get(ChangeSet, old_id), session.get(ChangeSet, new_id)
        states = (old.status, old.superseded_by_id, new.status)
    title, audited = _title(sessions, seen["ref"]), _audit_count(sessions, old_id)
    if approved:  # the approval won: the old set applied, the later reply left pending, nothing superseded
        assert (states, title, audited) == (("approved", None, "pending"), "Maire adjointe", 1)
    else:  # the reply won: nothing of the old set written
        assert (states, title, audited) == (("superseded", new_id, "pending"), seen["title"], 0)


def test_a_reply_superseding_first_makes_the_waiting_approval_refuse(env):
    config, sessions = env
    old_id, seen, _ = _first_reply(sessions)
    result = {}

    def approver():
        try:
            result["outcome"] = approve(sessions, config, old_id, REVIEWER)
        except ReviewError as exc:
            result["refused"] = str(exc)

    with sessions.begin() as session:  # the reply route's transaction, not yet committed
        new_id, superseded = _later_reply(session, old_id, "Première adjointe")
        thread = threading.Thread(target=approver)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive()  # the approval waits for the reply's transaction (write lock / row lock)
    thread.join(timeout=60)
    assert superseded == [old_id] and "remplacé par l'ensemble" in result["refused"]
    _check_exactly_one(sessions, old_id, new_id, seen, approved=False)


def test_an_approval_first_makes_the_waiting_reply_leave_it_alone(env, monkeypatch):
    config, sessions = env
    old_id, seen, _ = _first_reply(sessions)
    holding, release = threading.Event(), threading.Event()
    original = review_core._outdate_competitors

    def paused(*args, **kwargs):  # the approval's transaction has applied the set and not committed yet
        original(*args, **kwargs)
        holding.set()
        release.wait(30)

    monkeypatch.setattr(review_core, "_outdate_competitors", paused)
    approval = threading.Thread(target=lambda: approve(sessions, config, old_id, REVIEWER))
    approval.start()
    assert holding.wait(30)
    result = {}

    def reply():
        with sessions.begin() as session:
            result["new_id"], result["superseded"] = _later_reply(session, old_id, "Première adjointe")

    replying = threading.Thread(target=reply)
    replying.start()
    time.sleep(0.5)
    assert replying.is_alive()  # the reply's transaction waits for the approval's
    release.set()
    approval.join(timeout=60)
    replying.join(timeout=60)
    assert result["superseded"] == []
    _check_exactly_one(sessions, old_id, result["new_id"], seen, approved=True)


def test_approvals_and_superseding_replies_racing_freely_never_both_apply(env):
    """Ten free races (no ordering forced): whichever wins, the invariant holds every time."""
    config, sessions = env
    skip, winners = set(), []
    for _ in range(10):
        old_id, seen, _ = _first_reply(sessions, skip=skip)
        with sessions() as session:
            skip.add(session.get(ChangeSet, old_id).collectivite_id)
        barrier, result = threading.Barrier(2), {}

        def approver():
            barrier.wait()
            try:
                approve(sessions, config, old_id, REVIEWER)
                result["approved"] = True
            except ReviewError:
                result["approved"] = False

        def reply():
            barrier.wait()
            with sessions.begin() as session:
                result["new_id"], result["superseded"] = _later_reply(session, old_id, "Première adjointe")

        threads = [threading.Thread(target=approver), threading.Thread(target=reply)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert result["approved"] == (result["superseded"] == [])
        _check_exactly_one(sessions, old_id, result["new_id"], seen, approved=result["approved"])
        winners.append(result["approved"])
    assert len(winners) == 10
