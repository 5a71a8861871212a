"""Approval writes nothing that breaks the rules (#16, point 9): a contact proposed from an unknown
sender's From header cannot be created without its mandatory fields (refused with the reason until a
reviewer completes it), a value the rules refuse is never applied even when no error was recorded,
and an edit to an invalid value is refused with a non-zero exit, the previous value kept."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mailbot.cli.commands import main
from mailbot.config import load_config
from mailbot.review.checks import rule_errors
from mailbot.review.decide import approve, bulk_approve, edit
from mailbot.review.verdict import ReviewError
from mailbot.rules import ReferenceLists, load_rules
from mailbot.replies.tokenless import propose_contact
from store.campaign_models import Campaign
from store.models import Collectivite, Contact
from store.refdata import network_rows, theme_rows
from store.review_models import Change, ChangeSet
from tests.review_support import RULES, REVIEWERS, campaign_id, collectivite_with, contact_snapshot, inbound_for, make_set, update

REVIEWER = "Claire Martin"


@pytest.fixture
def env(seeded_db_url, seeded_sessions):
    cli = {"MAILBOT_DB": seeded_db_url, **REVIEWERS}
    return load_config(environ=cli), seeded_sessions, cli


def _contacts(sessions, coll_id: int) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Contact).where(Contact.collectivite_id == coll_id))


def test_a_stranger_proposed_as_contact_is_created_only_once_complete(env):
    config, sessions, cli = env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        inbound = inbound_for(session, "secretariat@mairie.example.fr", 900)
        inbound.from_header = "secretariat@mairie.example.fr"  # no display name: nothing to read a name from
        campaign = session.get(Campaign, campaign_id(session))
        proposal = propose_contact(session, inbound, campaign, coll, None, "SIREN")
        set_id, change_id, coll_id = proposal.id, proposal.changes[0].id, coll.id
        # shown to reviewers as errors from the start (review show, --with-errors)
        assert proposal.has_errors and [e["field"] for e in proposal.changes[0].errors] == [
            "first_name", "last_name", "title"]
    before = _contacts(sessions, coll_id)
    with pytest.raises(ReviewError, match=f"le changement n° {change_id} a une erreur \\(Le champ « Prénom » est "
                                          "obligatoire"):
        approve(sessions, config, set_id, REVIEWER)
    with sessions.begin() as session:  # the errors cleared by hand: the check at approval still refuses
        session.get(Change, change_id).errors = []
    with pytest.raises(ReviewError, match=f"le changement n° {change_id} écrirait une fiche que les règles refusent "
                                          rf"\(Le champ « Prénom » est obligatoire.*« Nom ».*« Titre ».*"
                                          rf"review edit {change_id} --field first_name"):
        approve(sessions, config, set_id, REVIEWER)
    result = CliRunner().invoke(main, ["review", "approve", str(set_id), "--as", REVIEWER, "--no-send"], env=cli)
    assert result.exit_code == 1 and "obligatoire" in result.output
    assert _contacts(sessions, coll_id) == before
    for key, value in (("first_name", "Claire"), ("last_name", "Moreau")):
        edit(sessions, config, change_id, REVIEWER, value, field_key=key)
    with pytest.raises(ReviewError, match="« Titre » est obligatoire"):  # still no title
        approve(sessions, config, set_id, REVIEWER)
    edit(sessions, config, change_id, REVIEWER, "Secrétaire de mairie", field_key="title")
    assert approve(sessions, config, set_id, REVIEWER).status == "approved"
    with sessions() as session:
        ref = session.get(Change, change_id).applied_ref
        created = session.scalar(select(Contact).where(Contact.ref == ref))
        assert (created.first_name, created.last_name, created.title, created.email) == (
            "Claire", "Moreau", "Secrétaire de mairie", "secretariat@mairie.example.fr")


def test_a_value_the_rules_refuse_is_never_applied_even_without_a_recorded_error(env):
    config, sessions, _ = env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        bad_address = make_set(session, coll, [update("contact", seen, "email", "pas une adresse")])
        blank_title = make_set(session, collectivite_with(session, skip={coll.id}), [])
        other = session.get(ChangeSet, blank_title)
        other_seen = contact_snapshot(session, session.get(Collectivite, other.collectivite_id).contacts[0].ref)
        other.changes = [update("contact", other_seen, "title", "")]
    with pytest.raises(ReviewError, match="n'est pas une adresse électronique valide"):
        approve(sessions, config, bad_address, REVIEWER)
    with pytest.raises(ReviewError, match="« Titre » est obligatoire"):
        approve(sessions, config, blank_title, REVIEWER)
    outcomes = bulk_approve(sessions, config, REVIEWER, [bad_address, blank_title])
    assert [o.applied for o in outcomes] == [[], []] and all("règles refusent" in o.refused for o in outcomes)
    with sessions() as session:
        assert session.scalar(select(Contact.email).where(Contact.ref == seen["ref"])) == seen["email"]
        assert session.scalar(select(Contact.title).where(Contact.ref == other_seen["ref"])) == other_seen["title"]


def test_an_invalid_edit_after_a_good_one_is_refused_and_keeps_the_good_value(env):
    config, sessions, cli = env
    with sessions.begin() as session:
        coll = collectivite_with(session)
        row = next(a for a in coll.apd_amounts) if coll.apd_amounts else None
        seen = ({"ref": row.ref, "version": row.version, "amount": str(row.amount)} if row is not None else None)
        change = (update("apd", seen, "amount", "1O OOO") if seen else
                  Change(op="create", entity="apd", ref="APD-2010", field="amount", new="1O OOO", errors=[],
                         matches=[], status="pending"))
        change.errors = [{"field": "amount", "code": "bad_amount", "message": "« 1O OOO » n'est pas un montant lisible"}]
        set_id = make_set(session, coll, [change])
        change_id = session.get(ChangeSet, set_id).changes[0].id
    run = lambda value: CliRunner().invoke(main, ["review", "edit", str(change_id), "--value", value, "--as", REVIEWER],
                                           env=cli)
    good = run("15 000 €")
    assert good.exit_code == 0 and "15000.00" in good.output, good.output
    bad = run("quinze mille")
    assert bad.exit_code == 1, bad.output
    assert "« quinze mille » est refusé" in bad.output and "n'est pas un montant lisible" in bad.output
    assert "La valeur précédente est conservée : « 15000.00 »" in bad.output
    with sessions() as session:
        kept = session.get(Change, change_id)
        assert (kept.new, kept.errors, kept.asked) == ("15000.00", [], "1O OOO")


def test_every_type_of_the_rules_file_reads_back_its_own_values():
    """The approval check writes typed values back as the form shows them: every valid value of the
    2012 rules must pass, or approval would refuse good changes."""
    rules = load_rules(RULES)
    themes, networks = theme_rows(), network_rows()
    refs = ReferenceLists(themes={t["code"]: t["label"] for t in themes}, networks={n["code"]: n["name"] for n in networks})
    good = [
        Change(op="create", entity="contact", ref="NOUVEAU-CONTACT#1", new={
            "first_name": "Inès", "last_name": "Bernard", "title": "Chargée de mission", "email": "ines@ville.fr",
            "role": "cadre"}),
        Change(op="create", entity="projet", ref="NOUVEAU-PROJET#1", new={
            "title": "Forage", "themes": ["eau_assainissement", "education", "sante"], "status": "termine",
            "status_year": 2011, "budget": "12500.50", "start_year": 2008, "end_year": 2011}),
        Change(op="create", entity="cooperation", ref="NOUVELLE-COOPERATION#1", new={
            "country_code": "CI", "partner": "Saint-Louis du Sénégal", "twinning": False, "since_year": 1990}),
        Change(op="create", entity="apd", ref="APD-2010", field="amount", new="1234567.89"),
        *(Change(op="update", entity="reseau", ref="RS-1", field="network", new=n["code"]) for n in networks),
        Change(op="update", entity="projet", ref="PJ-1", field="themes", new=[t["code"] for t in themes]),
        Change(op="update", entity="action", ref="CO-1", field="twinning", new=True),
        Change(op="update", entity="projet", ref="PJ-1", field="description", new="Ligne un\nLigne deux"),
        Change(op="update", entity="contact", ref="CT-1", field="role", new=None),
        Change(op="move", entity="action", ref="CO-1", field="kind", new="cooperation"),
        Change(op="delete", entity="contact", ref="CT-1"),
    ]
    assert {(c.ref, c.field, str(c.new)): rule_errors(rules, refs, c) for c in good if rule_errors(rules, refs, c)} == {}
    bad = Change(op="create", entity="cooperation", ref="NOUVELLE-COOPERATION#1", new={"country_code": "ZZ"})
    assert [e["code"] for e in rule_errors(rules, refs, bad)] == ["unknown_country", "missing"]
