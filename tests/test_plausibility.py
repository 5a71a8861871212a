"""Plausibility warnings (#18): rules as data in the rules file, checked when it loads; the pure
checks; `review show` (text and JSON) and the bulk form, which leaves warned sets out unless asked."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailbot.cli.commands import main
from mailbot.config import load_config
from mailbot.review.decide import bulk_approve, bulk_preview
from mailbot.review.plausibility import RecordFacts, find_warnings, plausibility_warnings, warnings_by_set
from mailbot.rules import Plausibility, RulesFileError, load_rules, parse_rules_text
from store.models import ApdAmount, Contact
from store.review_models import Change, ChangeSet
from tests.review_support import RULES, REVIEWERS, collectivite_with, contact_snapshot, make_set, update

ALL_ON = Plausibility(apd_factor=10, email_domain=True, partner_capitals=True, last_contact=True, project_dates=True)


def change(id, op, entity, ref, field=None, old=None, new=None, matches=(), status="pending") -> Change:
    return Change(id=id, op=op, entity=entity, ref=ref, field=field, old=old, new=new, matches=list(matches),
                  status=status)


def codes(changes, facts=RecordFacts(), settings=ALL_ON) -> list[tuple[str, int]]:
    return [(w.code, w.change_id) for w in find_warnings(settings, changes, facts)]


# --- the rules file ----------------------------------------------------------------------------------------

def test_the_2012_rules_turn_every_warning_on():
    assert load_rules(RULES).plausibility == ALL_ON


def test_the_table_is_checked_when_the_file_loads(tmp_path):
    text = Path(RULES).read_text(encoding="utf-8")
    for wrong, problem in (("apd_factor = 10", "apd_factor = 1"), ("email_domain = true", "email_domain = \"oui\""),
                           ("last_contact = true", "dernier_contact = true")):
        broken = text.replace(wrong, problem)
        with pytest.raises(RulesFileError) as refused:
            parse_rules_text(broken, source="campagne-2013.toml")
        assert "[plausibility]" in str(refused.value)
    without = text[:text.index("[plausibility]")] + text[text.index("[contact]"):]
    assert parse_rules_text(without).plausibility == Plausibility()  # no table: no warning


# --- the pure checks ---------------------------------------------------------------------------------------

def test_an_apd_amount_multiplied_or_divided_beyond_the_factor():
    facts = RecordFacts(apd={"AP-1": (2009, Decimal("120000")), "AP-2": (2010, Decimal("100000"))})
    assert codes([change(1, "update", "apd", "AP-2", "amount", "100000.00", "1000.00")], facts) == [("apd_factor", 1)]
    assert codes([change(1, "update", "apd", "AP-2", "amount", "100000.00", "1500000")], facts) == [("apd_factor", 1)]
    assert codes([change(1, "update", "apd", "AP-2", "amount", "100000.00", "0")], facts) == [("apd_factor", 1)]
    assert codes([change(1, "update", "apd", "AP-2", "amount", "100000.00", "12000")], facts) == []  # ÷ 8.3
    alone = RecordFacts(apd={"AP-2": (2010, None)})
    assert codes([change(1, "update", "apd", "AP-2", "amount", None, "5")], alone) == []  # nothing to compare with
    # a year without a row yet is compared with the latest earlier year
    new_year = RecordFacts(apd={"AP-1": (2009, Decimal("120000"))})
    [warning] = find_warnings(ALL_ON, [change(1, "create", "apd", "APD-2010", "amount", None, "1200")], new_year)
    assert warning.message.startswith("Le montant d'APD 2010 demandé (1\u202f200 €) est divisé par 100 par rapport à "
                                      "celui de 2009 (120\u202f000 €)")
    assert codes([change(1, "update", "apd", "AP-2", "amount", "100000.00", "1000")], facts,
                 Plausibility(apd_factor=200)) == []  # the factor is the rules'


def test_an_address_moving_to_a_domain_the_collectivite_does_not_use():
    facts = RecordFacts(contact_count=2, email_domains=frozenset({"ville-rennes.fr", "rennes-metropole.fr"}))
    moved = change(4, "update", "contact", "CT-1", "email", "m.dupont@ville-rennes.fr", "marie.dupont@gmail.com")
    [warning] = find_warnings(ALL_ON, [moved], facts)
    assert warning.code == "email_domain" and "gmail.com" in warning.message and "ville-rennes.fr" in warning.message
    assert codes([change(4, "update", "contact", "CT-1", "email", "a@ville-rennes.fr", "b@Rennes-Metropole.fr")],
                 facts) == []
    assert codes([moved], facts, Plausibility(apd_factor=10)) == []  # switched off


def test_a_partner_name_in_capitals_written_or_rewritten():
    assert codes([change(1, "update", "cooperation", "CO-1", "partner", "Dakar", "DAKAR")]) == [("partner_capitals", 1)]
    assert codes([change(2, "create", "action", "NOUVELLE-ACTION#1", new={"partner": "SAINT-LOUIS", "country_code": "SN"})]) \
        == [("partner_capitals", 2)]
    rewritten = change(3, "update", "cooperation", "CO-1", "partner", "Dakar", "Saint-Louis Du Senegal", matches=[
        {"field": "partner", "written": "SAINT-LOUIS DU SENEGAL", "code": "Saint-Louis Du Senegal",
         "label": "Saint-Louis Du Senegal", "score": 100.0}])
    [warning] = find_warnings(ALL_ON, [rewritten], RecordFacts())
    assert "« SAINT-LOUIS DU SENEGAL »" in warning.message and "accents" in warning.message
    assert codes([change(1, "update", "cooperation", "CO-1", "partner", "DAKAR", "Dakar")]) == []


def test_deleting_the_last_contact():
    deletes = [change(1, "delete", "contact", "CT-1"), change(2, "delete", "contact", "CT-2")]
    assert codes(deletes, RecordFacts(contact_count=2)) == [("last_contact", 2)]
    assert codes(deletes, RecordFacts(contact_count=3)) == []
    assert codes([*deletes, change(3, "create", "contact", "NOUVEAU-CONTACT#1", new={"first_name": "A"})],
                 RecordFacts(contact_count=2)) == []  # a replacement is proposed
    assert codes([change(1, "delete", "contact", "CT-1", status="rejected")], RecordFacts(contact_count=1)) == []


def test_a_project_ended_before_it_started():
    facts = RecordFacts(projects={"PJ-1": (2008, 2012, "Forage à Kayes")})
    [warning] = find_warnings(ALL_ON, [change(1, "update", "projet", "PJ-1", "end_year", 2012, 2006)], facts)
    assert warning.message == ("Le projet « Forage à Kayes » finirait en 2006, avant d'avoir commencé (2008) : "
                               "vérifiez les deux années.")
    both = [change(1, "update", "projet", "PJ-1", "start_year", 2008, 2011),
            change(2, "update", "projet", "PJ-1", "end_year", 2012, 2010)]
    assert codes(both, facts) == [("project_dates", 1)]  # one warning for the project
    assert codes([change(1, "update", "projet", "PJ-1", "start_year", 2008, 2010)], facts) == []
    assert codes([change(5, "create", "projet", "NOUVEAU-PROJET#1", new={"title": "École", "start_year": 2011,
                                                                         "end_year": 2009})]) == [("project_dates", 5)]


# --- with the store: review show and the bulk form ---------------------------------------------------------

@pytest.fixture
def warned(seeded_db_url, seeded_sessions):
    """Two trusted, error-free sets: one dividing an APD amount by a hundred, one ordinary."""
    with seeded_sessions.begin() as session:
        coll = collectivite_with(session)
        row = session.scalar(select(ApdAmount).where(ApdAmount.collectivite_id == coll.id,
                                                     ApdAmount.amount > 1000).limit(1))
        if row is None:
            row = ApdAmount(ref="AP-TESTPL1", collectivite_id=coll.id, year=2010, amount=Decimal("150000"))
            session.add(row)
            session.flush()
        seen = {"ref": row.ref, "version": row.version, "amount": str(row.amount)}
        divided = make_set(session, coll, [update("apd", seen, "amount", str((row.amount / 100).quantize(Decimal("0.01"))))])
        other = collectivite_with(session, skip={coll.id})
        plain = make_set(session, other, [update("contact", contact_snapshot(session, other.contacts[0].ref), "title",
                                                 "Maire adjointe")])
    return {"MAILBOT_DB": seeded_db_url, **REVIEWERS}, seeded_sessions, divided, plain, row.ref


def test_review_show_gives_the_warnings_in_text_and_json(warned):
    env, sessions, divided, plain, _ = warned
    text = CliRunner().invoke(main, ["review", "show", str(divided)], env=env).output
    assert "ATTENTION : Le montant d'APD" in text and "divisé par 100" in text
    data = json.loads(CliRunner().invoke(main, ["review", "show", str(divided), "--json"], env=env).output)
    [warning] = data["warnings"]
    assert warning["code"] == "apd_factor" and warning["change"] == data["changes"][0]["id"]
    assert json.loads(CliRunner().invoke(main, ["review", "show", str(plain), "--json"], env=env).output)["warnings"] == []
    with sessions() as session:  # the console's call: a set or its id, the same answer
        assert plausibility_warnings(session, divided) == plausibility_warnings(session, session.get(ChangeSet, divided))
        assert set(warnings_by_set(session, session.scalars(select(ChangeSet)))) == {divided}


def test_the_bulk_form_leaves_warned_sets_out_unless_asked(warned):
    env, sessions, divided, plain, apd_ref = warned
    with sessions() as session:
        preview = bulk_preview(session)
        assert preview.ids == [plain] and list(preview.warned) == [divided]
        assert bulk_preview(session, include_warned=True).ids == [divided, plain]
    dry = CliRunner().invoke(main, ["review", "approve", "--all-trusted-without-errors", "--dry-run", "--as",
                                    "Claire Martin"], env=env).output
    assert dry.startswith("1 ensemble(s) seraient approuvés") and f"#{divided} : Le montant d'APD" in dry
    assert "--include-warned" in dry
    # listed before the warning could be seen: checked again under the lock
    [left] = bulk_approve(sessions, load_config(environ=env), "Claire Martin", [divided])
    assert not left.applied and left.refused.startswith("avertissement : Le montant d'APD")
    done = CliRunner().invoke(main, ["review", "approve", "--all-trusted-without-errors", "--as", "Claire Martin",
                                     "--no-send"], env=env)
    assert done.exit_code == 0 and "1 ensemble(s) traités" in done.output, done.output
    assert f"ensemble n° {divided} laissé de côté : avertissement : Le montant d'APD" in done.output
    with sessions() as session:
        assert session.get(ChangeSet, divided).status == "pending" and session.get(ChangeSet, plain).status == "approved"
    forced = CliRunner().invoke(main, ["review", "approve", "--all-trusted-without-errors", "--include-warned",
                                       "--as", "Claire Martin", "--no-send"], env=env)
    assert forced.exit_code == 0 and "1 ensemble(s) traités : 1 changement(s) appliqué(s)" in forced.output, forced.output
    dry = CliRunner().invoke(main, ["review", "approve", "--all-trusted-without-errors", "--dry-run",
                                    "--include-warned", "--as", "Claire Martin"], env=env).output
    assert dry.startswith("0 ensemble(s)")  # nothing left
    with sessions() as session:
        assert session.get(ChangeSet, divided).status == "approved"
        assert session.scalar(select(ApdAmount.amount).where(ApdAmount.ref == apd_ref)) < 10_000


def test_a_contact_address_moving_elsewhere_is_warned_in_the_store(warned):
    env, sessions, *_ = warned
    with sessions.begin() as session:
        coll = collectivite_with(session, contacts=2)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        domains = {c.email.rsplit("@", 1)[1] for c in coll.contacts if c.email}
        elsewhere = make_set(session, coll, [update("contact", seen, "email", "quelquun@laposte.net")])
        same = make_set(session, coll, [update("contact", seen, "email", f"autre@{sorted(domains)[0]}")])
    with sessions() as session:
        assert [w.code for w in plausibility_warnings(session, elsewhere)] == ["email_domain"]
        assert plausibility_warnings(session, same) == []
        assert session.scalar(select(Contact.email).where(Contact.ref == seen["ref"])) == seen["email"]
