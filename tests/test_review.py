"""Review decisions against a seeded store (SQLite and PostgreSQL): approve, partial, reject, edit,
conflicts both ways, revert, reviewers, concurrency, notifications and the digest."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from mailbot.config import load_config
from mailbot.review.notify import digest, notify_decided
from mailbot.review.decide import (
    approve,
    bulk_approve,
    bulk_candidates,
    edit,
    reject,
    require_reviewer,
    resolve,
    revert,
)
from mailbot.review.history import history
from mailbot.review.verdict import ReviewError, judge, settle_status
from store.campaign_models import OutboundMessage
from store.models import ApdAmount, Collectivite, Contact, Cooperation, Project
from store.review_models import AuditEntry, Change, ChangeSet
from tests.review_support import REVIEWERS, RULES, collectivite_with, contact_snapshot, make_set, snapshot, update

REVIEWER = "Claire Martin"


@pytest.fixture
def review_env(seeded_db_url, seeded_sessions, seeded_engine):
    config = load_config(environ={"MAILBOT_DB": seeded_db_url, **REVIEWERS})
    return config, seeded_sessions, seeded_engine


def _contact(session, ref) -> Contact:
    return session.scalar(select(Contact).where(Contact.ref == ref))


def _set(session, changeset_id) -> ChangeSet:
    return session.get(ChangeSet, changeset_id)


# --- pure core -------------------------------------------------------------------------------------------

def test_judge_applies_when_the_record_is_as_seen_and_conflicts_otherwise():
    assert judge("update", "contact", "title", "Maire", 3, exists=True, version=3, current="Maire").apply
    # the record moved on, but not this field: nothing to merge
    assert judge("update", "contact", "title", "Maire", 3, exists=True, version=4, current="Maire").apply
    verdict = judge("update", "contact", "title", "Maire", 3, exists=True, version=4, current="Adjoint")
    assert not verdict.apply and verdict.current == "Adjoint"
    assert not judge("delete", "contact", None, "x", 3, exists=True, version=4, current={}).apply
    assert not judge("update", "contact", "title", "Maire", 3, exists=False, version=None, current=None).apply
    assert judge("update", "apd", "amount", "12500.00", 1, exists=True, version=2, current="12500").apply


def test_a_set_settles_only_when_nothing_is_left_to_decide():
    assert settle_status(["applied", "pending"]) == "pending"
    assert settle_status(["applied", "conflict"]) == "pending"
    assert settle_status(["applied", "applied"]) == "approved"
    assert settle_status(["rejected"]) == "rejected"
    assert settle_status(["applied", "rejected"]) == "partial"


# --- reviewers -------------------------------------------------------------------------------------------

def test_only_configured_reviewers_decide():
    config = load_config(environ=REVIEWERS)
    assert require_reviewer(config, "Paul Durand") == "Paul Durand"
    with pytest.raises(ReviewError, match="n'est pas relecteur"):
        require_reviewer(config, "Mallory")
    with pytest.raises(ReviewError, match="nommez le relecteur"):
        require_reviewer(config, None)
    assert require_reviewer(load_config(environ={**REVIEWERS, "MAILBOT_REVIEWER": "Claire Martin"}), None) == "Claire Martin"


# --- decisions -------------------------------------------------------------------------------------------

def test_approve_applies_every_change_with_an_audit_entry(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session, contacts=2)
        first, second = (contact_snapshot(session, c.ref) for c in coll.contacts[:2])
        set_id = make_set(session, coll, [update("contact", first, "title", "Maire adjointe"),
                                          update("contact", second, "email", "nouvelle.adresse@ville.example.fr")])
        code = coll.code
    outcome = approve(sessions, config, set_id, REVIEWER)
    assert outcome.status == "approved" and len(outcome.applied) == 2
    with sessions() as session:
        assert _contact(session, first["ref"]).title == "Maire adjointe"
        assert _contact(session, first["ref"]).version == first["version"] + 1
        assert _contact(session, second["ref"]).email == "nouvelle.adresse@ville.example.fr"
        changeset = _set(session, set_id)
        assert changeset.decided_by == REVIEWER and all(c.status == "applied" for c in changeset.changes)
        entries = history(session, code)
    assert [(e["ref"], e["field"], e["old"], e["new"], e["reviewer"]) for e in entries] == [
        (first["ref"], "title", first["title"], "Maire adjointe", REVIEWER),
        (second["ref"], "email", second["email"], "nouvelle.adresse@ville.example.fr", REVIEWER)]
    assert entries[0]["message_id"].startswith("<reply-") and entries[0]["changeset"] == set_id


def test_partial_approval_then_reject_with_a_reason_and_the_agent_is_told(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session, contacts=2)
        first, second = (contact_snapshot(session, c.ref) for c in coll.contacts[:2])
        set_id = make_set(session, coll, [update("contact", first, "title", "Directrice"),
                                          update("contact", second, "title", "Chargé de mission")])
        change_ids = [c.id for c in _set(session, set_id).changes]
    outcome = approve(sessions, config, set_id, REVIEWER, only=[change_ids[0]])
    assert outcome.applied == [change_ids[0]] and outcome.status == "pending"
    assert notify_decided(sessions, config) == []  # nothing to tell while something waits
    outcome = reject(sessions, config, set_id, REVIEWER, "Le titre doit être celui de l'arrêté de nomination.")
    assert outcome.rejected == [change_ids[1]] and outcome.status == "partial"
    with sessions() as session:
        assert _contact(session, first["ref"]).title == "Directrice"
        assert _contact(session, second["ref"]).title == second["title"]
    [outbound_id] = notify_decided(sessions, config)
    assert notify_decided(sessions, config) == []  # told once
    with sessions() as session:
        message = session.get(OutboundMessage, outbound_id)
        text = message.raw.decode("utf-8", "replace")
        assert message.in_reply_to == f"<reply-{_inbound_number(session, set_id)}@mairie.example.fr>"
        assert message.recipients == [_set(session, set_id).sender]
    assert "Directrice" in text and "arrêté de nomination" in text and "non retenues" in text


def _inbound_number(session, set_id: int) -> int:
    from store.inbound_models import InboundMessage

    inbound = session.get(InboundMessage, _set(session, set_id).inbound_id)
    return int(inbound.message_id.split("-")[1].split("@")[0])


def test_reject_changes_nothing_and_needs_a_reason(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        set_id = make_set(session, coll, [update("contact", seen, "title", "Président")])
    with pytest.raises(ReviewError, match="raison"):
        reject(sessions, config, set_id, REVIEWER, "  ")
    assert reject(sessions, config, set_id, REVIEWER, "Doublon").status == "rejected"
    with sessions() as session:
        assert _contact(session, seen["ref"]).title == seen["title"]
        assert _contact(session, seen["ref"]).version == seen["version"]
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_an_erroneous_change_is_refused_until_edited(review_env):
    config, sessions, _ = review_env
    error = {"field": "email", "code": "bad_email", "message": "Adresse invalide."}
    with sessions.begin() as session:
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        set_id = make_set(session, coll, [update("contact", seen, "email", "m.dupont@@ville", errors=[error])])
        change_id = _set(session, set_id).changes[0].id
    with pytest.raises(ReviewError, match="a une erreur"):
        approve(sessions, config, set_id, REVIEWER)
    with pytest.raises(ReviewError, match="est refusé .* La valeur précédente est conservée : « m.dupont@@ville »"):
        edit(sessions, config, change_id, REVIEWER, "toujours pas une adresse")  # an invalid edit changes nothing
    with pytest.raises(ReviewError, match="a une erreur"):
        approve(sessions, config, set_id, REVIEWER)
    fixed = edit(sessions, config, change_id, REVIEWER, "  m.dupont@ville.example.fr ")
    assert fixed.errors == [] and fixed.new == "m.dupont@ville.example.fr" and fixed.asked == "m.dupont@@ville"
    assert approve(sessions, config, set_id, REVIEWER).status == "approved"
    with sessions() as session:
        assert _contact(session, seen["ref"]).email == "m.dupont@ville.example.fr"
        assert session.get(Change, change_id).edited_by == REVIEWER


def test_edit_is_validated_by_the_rules_with_fuzzy_matching(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session, cooperations=1)
        project = next(p for c in coll.cooperations for p in c.projects)
        seen = {"ref": project.ref, "version": project.version, "status": project.status}
        set_id = make_set(session, coll, [update("projet", seen, "status", "n'importe quoi",
                                                 errors=[{"field": "status", "code": "unknown_choice", "message": "?"}])])
        change_id = _set(session, set_id).changes[0].id
    target = "termine" if project.status != "termine" else "en_sommeil"
    written = {"termine": "TERMINÉ", "en_sommeil": "en   sommeil"}[target]
    assert edit(sessions, config, change_id, REVIEWER, written).new == target


def test_a_conflict_is_detected_and_resolved_for_the_agent(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        early = make_set(session, coll, [update("contact", seen, "title", "Première version")])
        late = make_set(session, coll, [update("contact", seen, "title", "Seconde version")])
    # two replies competing for one field: applying one puts the other in conflict at once, naming it
    assert approve(sessions, config, early, REVIEWER).outdated == [_first_change(sessions, late)]
    outcome = approve(sessions, config, late, REVIEWER)
    assert outcome.status == "pending" and not outcome.applied
    with sessions() as session:
        change = _set(session, late).changes[0]
        assert (change.status, change.old, change.current, change.new) == (
            "conflict", seen["title"], "Première version", "Seconde version")
        assert f"ensemble n° {early}" in change.reason
        assert _set(session, late).has_conflicts
        assert _contact(session, seen["ref"]).title == "Première version"
    with pytest.raises(ReviewError, match="déjà approuvé"):
        resolve(sessions, config, _first_change(sessions, early), REVIEWER, take="asked")
    assert resolve(sessions, config, change.id, REVIEWER, take="asked").status == "approved"
    with sessions() as session:
        assert _contact(session, seen["ref"]).title == "Seconde version"
        assert not _set(session, late).has_conflicts
        assert [e["new"] for e in history(session, coll.code)] == ["Première version", "Seconde version"]


def test_a_conflict_resolved_for_the_atlas_keeps_the_current_value(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        early = make_set(session, coll, [update("contact", seen, "title", "Valeur de l'import")])
        late = make_set(session, coll, [update("contact", seen, "title", "Valeur de l'agent")])
    approve(sessions, config, early, REVIEWER)
    approve(sessions, config, late, REVIEWER)
    outcome = resolve(sessions, config, _first_change(sessions, late), REVIEWER, take="current")
    assert outcome.status == "rejected"
    with sessions() as session:
        assert _contact(session, seen["ref"]).title == "Valeur de l'import"
        assert "valeur actuelle" in _set(session, late).changes[0].reason


def _first_change(sessions, set_id: int) -> int:
    with sessions() as session:
        return _set(session, set_id).changes[0].id


def test_another_field_changed_since_is_not_a_conflict(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        one = make_set(session, coll, [update("contact", seen, "title", "Conseillère municipale")])
        two = make_set(session, coll, [update("contact", seen, "last_name", "Martin-Dupont")])
    approve(sessions, config, one, REVIEWER)
    assert approve(sessions, config, two, REVIEWER).status == "approved"
    with sessions() as session:
        contact = _contact(session, seen["ref"])
        assert (contact.title, contact.last_name, contact.version) == ("Conseillère municipale", "Martin-Dupont",
                                                                       seen["version"] + 2)


def test_delete_and_its_revert_bring_the_cooperation_and_its_projects_back(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session, cooperations=1)
        coop = next(c for c in coll.cooperations if c.kind == "cooperation" and c.projects)
        ref, projects = coop.ref, sorted(p.ref for p in coop.projects)
        themes = {p.ref: p.themes for p in coop.projects}
        partner = coop.partner.name if coop.partner else None
        set_id = make_set(session, coll, [Change(op="delete", entity="cooperation", ref=ref, old="x",
                                                 base_version=coop.version, errors=[], matches=[], status="pending")])
    assert approve(sessions, config, set_id, REVIEWER).status == "approved"
    with sessions() as session:
        assert session.scalar(select(Cooperation).where(Cooperation.ref == ref)) is None
        assert session.scalar(select(func.count()).select_from(Project).where(Project.ref.in_(projects))) == 0
    outcome = revert(sessions, config, set_id, REVIEWER)
    assert outcome.status == "approved"
    with sessions() as session:
        back = session.scalar(select(Cooperation).where(Cooperation.ref == ref))
        assert back is not None and sorted(p.ref for p in back.projects) == projects
        assert (back.partner.name if back.partner else None) == partner
        assert {p.ref: p.themes for p in back.projects} == themes
        revert_set = session.scalar(select(ChangeSet).where(ChangeSet.reverts_id == set_id))
        assert revert_set.decided_by == REVIEWER
        ops = [e["op"] for e in history(session, coll.code)]
        assert ops == ["delete", "create"]
    with pytest.raises(ReviewError, match="déjà annulé"):
        revert(sessions, config, set_id, REVIEWER)


def test_created_records_and_their_revert(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session, cooperations=1)
        coop = next(c for c in coll.cooperations if c.kind == "cooperation" and c.projects)
        apd_years = {a.year for a in coll.apd_amounts}
        year = next(y for y in range(2011, 2000, -1) if y not in apd_years)
        set_id = make_set(session, coll, [
            Change(op="create", entity="contact", ref="NOUVEAU-CONTACT#1", new={
                "first_name": "Inès", "last_name": "Bernard", "title": "Chargée de mission",
                "email": "ines.bernard@ville.example.fr", "role": "cadre"}, errors=[], matches=[], status="pending"),
            Change(op="create", entity="projet", ref="NOUVEAU-PROJET#1", parent_ref=coop.ref, new={
                "title": "Jumelage scolaire", "themes": ["education"], "status": "en_cours", "budget": "12500"},
                errors=[], matches=[], status="pending"),
            Change(op="create", entity="apd", ref=f"APD-{year}", field="amount", new="30000",
                   errors=[], matches=[], status="pending"),
            Change(op="create", entity="cooperation", ref="NOUVELLE-COOPERATION#1", new={
                "country_code": "SN", "partner": "Ziguinchor", "twinning": True, "since_year": 2009},
                errors=[], matches=[], status="pending"),
        ])
    outcome = approve(sessions, config, set_id, REVIEWER)
    assert outcome.status == "approved", outcome
    with sessions() as session:
        changes = _set(session, set_id).changes
        contact = _contact(session, changes[0].applied_ref)
        assert (contact.first_name, contact.email, contact.collectivite_id) == ("Inès", "ines.bernard@ville.example.fr", coll.id)
        project = session.scalar(select(Project).where(Project.ref == changes[1].applied_ref))
        assert project.cooperation.ref == coop.ref and project.themes == ["education"] and project.budget == Decimal("12500")
        apd = session.scalar(select(ApdAmount).where(ApdAmount.collectivite_id == coll.id, ApdAmount.year == year))
        assert apd.amount == Decimal("30000")
        new_coop = session.scalar(select(Cooperation).where(Cooperation.ref == changes[3].applied_ref))
        assert (new_coop.kind, new_coop.country_code, new_coop.partner.name, new_coop.twinning) == (
            "cooperation", "SN", "Ziguinchor", True)
    assert revert(sessions, config, set_id, REVIEWER).status == "approved"
    with sessions() as session:
        assert _contact(session, changes[0].applied_ref) is None
        assert session.scalar(select(Project).where(Project.ref == changes[1].applied_ref)) is None
        assert session.scalar(select(ApdAmount).where(ApdAmount.collectivite_id == coll.id, ApdAmount.year == year)) is None


def test_a_revert_checks_its_own_conflicts(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        first = make_set(session, coll, [update("contact", seen, "title", "Adjoint au maire")])
    approve(sessions, config, first, REVIEWER)
    with sessions.begin() as session:
        now = contact_snapshot(session, seen["ref"])
        later = make_set(session, coll, [update("contact", now, "title", "Maire")])
    approve(sessions, config, later, REVIEWER)
    outcome = revert(sessions, config, first, REVIEWER)
    assert outcome.status == "pending" and len(outcome.conflicts) == 1
    with sessions() as session:
        assert _contact(session, seen["ref"]).title == "Maire"  # the later decision is not undone silently


def test_move_an_action_to_the_cooperations(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        action = session.scalar(select(Cooperation).where(Cooperation.kind == "action").order_by(Cooperation.id))
        if action is None:
            pytest.skip("no external action in the seeded store")
        coll = session.get(Collectivite, action.collectivite_id)
        set_id = make_set(session, coll, [Change(op="move", entity="action", ref=action.ref, field="kind",
                                                 old="action", new="cooperation", base_version=action.version,
                                                 errors=[], matches=[], status="pending")])
        ref = action.ref
    approve(sessions, config, set_id, REVIEWER)
    with sessions() as session:
        assert session.scalar(select(Cooperation.kind).where(Cooperation.ref == ref)) == "cooperation"


def test_a_reference_of_another_collectivite_is_never_touched(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        mine = collectivite_with(session)
        other = collectivite_with(session, skip={mine.id})
        foreign = contact_snapshot(session, other.contacts[0].ref)
        set_id = make_set(session, mine, [update("contact", foreign, "title", "Usurpé")])
    outcome = approve(sessions, config, set_id, REVIEWER)
    assert outcome.conflicts and not outcome.applied
    with sessions() as session:
        assert _contact(session, foreign["ref"]).title == foreign["title"]


# --- concurrency -----------------------------------------------------------------------------------------

def test_concurrent_approvals_of_one_set_apply_it_once(review_env):
    config, sessions, engine = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session, contacts=2)
        seen = [contact_snapshot(session, c.ref) for c in coll.contacts[:2]]
        set_id = make_set(session, coll, [update("contact", seen[0], "title", "Concurrence A"),
                                          update("contact", seen[1], "title", "Concurrence B")])
    workers = 6
    barrier = threading.Barrier(workers)
    outcomes, errors, refusals = [], [], []

    def reviewer(name: str) -> None:
        barrier.wait()
        try:
            outcomes.append(approve(sessions, config, set_id, name))
        except ReviewError as exc:
            refusals.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    names = ["Claire Martin", "Paul Durand"] * (workers // 2)
    threads = [threading.Thread(target=reviewer, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(outcomes) == 1 and len(outcomes[0].applied) == 2  # applied once, whoever won
    assert len(refusals) == workers - 1 and all("déjà approuvé" in r for r in refusals)  # the others told why
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.changeset_id == set_id)) == 2
        assert [_contact(session, s["ref"]).version for s in seen] == [s["version"] + 1 for s in seen]


def test_concurrent_sets_on_one_record_end_in_one_application_and_one_conflict(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        ids = [make_set(session, coll, [update("contact", seen, "title", f"Titre {i}")]) for i in range(4)]
    barrier = threading.Barrier(len(ids))
    outcomes = []

    def run(set_id):
        barrier.wait()
        outcomes.append(approve(sessions, config, set_id, REVIEWER))

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(len(o.applied) for o in outcomes) == [0, 0, 0, 1]
    # each loser is a conflict once: found at its own approval, or set by the winner's (competing changes)
    assert sum(len(o.conflicts) + len(o.outdated) for o in outcomes) == 3
    with sessions() as session:
        assert _contact(session, seen["ref"]).version == seen["version"] + 1
        states = session.scalars(select(Change.status).where(Change.changeset_id.in_(ids))).all()
        assert sorted(states) == ["applied", "conflict", "conflict", "conflict"]


# --- bulk, notifications, digest -------------------------------------------------------------------------

def test_bulk_takes_only_trusted_sets_without_errors_or_conflicts(review_env):
    config, sessions, _ = review_env
    error = {"field": "email", "code": "bad_email", "message": "Adresse invalide."}
    with sessions.begin() as session:
        a = collectivite_with(session)
        b = collectivite_with(session, skip={a.id})
        c = collectivite_with(session, skip={a.id, b.id})
        clean = make_set(session, a, [update("contact", contact_snapshot(session, a.contacts[0].ref), "title", "OK")])
        stranger = make_set(session, b, [update("contact", contact_snapshot(session, b.contacts[0].ref), "title", "?")],
                            trusted=False, sender="inconnu@example.org")
        wrong = make_set(session, c, [update("contact", contact_snapshot(session, c.contacts[0].ref), "email", "x@",
                                             errors=[error])])
        assert bulk_candidates(session) == [clean]
    [outcome] = bulk_approve(sessions, config, REVIEWER, [clean])
    assert outcome.status == "approved"
    with sessions() as session:
        assert {_set(session, i).status for i in (stranger, wrong)} == {"pending"}


def test_the_digest_counts_the_queue(review_env):
    config, sessions, _ = review_env
    with sessions.begin() as session:
        a = collectivite_with(session)
        b = collectivite_with(session, skip={a.id})
        seen = contact_snapshot(session, a.contacts[0].ref)
        first = make_set(session, a, [update("contact", seen, "title", "Un")])
        second = make_set(session, a, [update("contact", seen, "title", "Deux")])
        make_set(session, b, [update("contact", contact_snapshot(session, b.contacts[0].ref), "title", "Trois")],
                 trusted=False, sender="x@example.org")
    approve(sessions, config, first, REVIEWER)
    approve(sessions, config, second, REVIEWER)  # a conflict now
    with sessions() as session:
        data = digest(session)
    assert (data["pending"], data["conflicts"], data["untrusted"], data["decided_last_day"]) == (2, 1, 1, 1)
    assert data["oldest"]["id"] == second and [s["id"] for s in data["conflict_sets"]] == [second]
    assert sum(r["count"] for r in data["by_region"]) == 2


def test_snapshot_helper_matches_the_store(review_env):
    """The builders above must describe records the way the diff does, or the tests prove nothing."""
    _, sessions, _ = review_env
    with sessions() as session:
        coll = collectivite_with(session)
        record = snapshot(coll)
        assert record["contacts"][0]["title"] == contact_snapshot(session, coll.contacts[0].ref)["title"]


def test_amounts_are_told_in_french_format():
    from mailbot.replies.acknowledge import sentence
    from mailbot.replies.diff import ProposedChange
    from mailbot.review.notify import decision_line
    from mailbot.labels import labels_for
    from mailbot.rules import load_rules

    ack = sentence(ProposedChange(op="update", entity="apd", ref="APD-X", field="amount", old="587710.00",
                                  new="12500", label="APD 2010", description="2010"))
    assert ack == "APD 2010 : 587\u202f710\u00a0€ → 12\u202f500\u00a0€" or ack.replace("\u202f", " ").replace("\u00a0", " ") == "APD 2010 : 587 710 € → 12 500 €"
    line = decision_line(Change(op="update", entity="projet", ref="PJ-1", field="budget", old=None, new="54000",
                                asked="54 000"), labels_for(load_rules(RULES)))
    assert line.replace("\u202f", " ").replace("\u00a0", " ").startswith("Budget de PJ-1 : (vide) → 54 000 €")
