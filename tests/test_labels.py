"""Labels, not codes, wherever a person reads a change: the acknowledgement, the decision notice,
`mailbot review show` (statuses, roles, themes, countries, yes/no, whole records; never None or a dict)."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from mailbot.replies.acknowledge import sentence
from mailbot.cli.commands import main
from mailbot.cli.review import describe
from mailbot.replies.diff import ProposedChange
from mailbot.labels import labels_for, when
from mailbot.review.notify import Names, decision_line, snapshot_names
from mailbot.rules import ReferenceLists, load_rules
from store.review_models import Change
from tests.review_support import REVIEWERS, RULES, collectivite_with, make_set

REFERENCES = ReferenceLists(themes={"sante": "Santé", "education": "Éducation, formation",
                                    "developpement_economique": "Développement économique, coopération économique"},
                            networks={"cites_unies": "Cités Unies France"})
PYTHON_VALUES = re.compile(r"\{'|\bNone\b|\bTrue\b|\bFalse\b|\[\]|\ben_cours\b|\btermine\b|\belu\b|developpement_economique")


@pytest.fixture(scope="module")
def labels():
    return labels_for(load_rules(RULES), REFERENCES)


def _change(id_, op, entity, ref, field=None, old=None, new=None, status="pending", **extra):
    return {"id": id_, "op": op, "entity": entity, "ref": ref, "field": field, "old": old, "new": new,
            "errors": [], "matches": [], "parent_ref": None, "base_version": 1, "status": status,
            "current": None, "asked": None, "reason": None, "edited_by": None, "decided_by": None,
            "applied_ref": None, "competing": [], **extra}


SNAPSHOT = {
    "contacts": [{"ref": "CT-AAAAAA", "first_name": "Marie", "last_name": "Dupont", "role": "elu"}],
    "reseaux": [],
    "apd": [{"ref": "AP-2009XX", "year": 2009, "amount": "1000"}, {"ref": "AP-2010XX", "year": 2010, "amount": None}],
    "cooperations": [{"ref": "CO-BBBBBB", "partner": "Thiès", "country": "Sénégal", "projects": [
        {"ref": "PJ-CCCCCC", "title": "Puits de Thiès", "status": "en_cours"}]}],
    "actions": [],
}


def test_review_show_reads_as_french_with_labels_names_and_dates(labels):
    row = {
        "id": 7, "collectivite": "COM-35238", "collectivite_name": "Rennes", "departement": "35", "region": "53",
        "status": "pending", "sender": "marie.dupont@rennes.fr", "trusted": True, "note": None,
        "created_at": "2012-04-03T08:14:00+00:00", "decided_by": None, "decided_at": None, "reason": None,
        "superseded_by": None, "supersedes": [],
        "changes": [
            _change(1, "update", "projet", "PJ-CCCCCC", "status", "en_cours", "termine"),
            _change(2, "update", "projet", "PJ-CCCCCC", "themes", ["sante"], ["developpement_economique", "education"]),
            _change(3, "create", "contact", "NOUVEAU-CONTACT#1", None, None,
                    {"first_name": "Inès", "last_name": "Bernard", "title": "", "email": "ines@rennes.fr",
                     "role": "elu"}),
            _change(4, "update", "contact", "CT-AAAAAA", "role", None, "cadre"),
            _change(5, "update", "cooperation", "CO-BBBBBB", "twinning", False, True),
            _change(6, "update", "apd", "AP-2009XX", "amount", "1000", "2000", status="rejected", reason="année close"),
            _change(7, "delete", "cooperation", "CO-BBBBBB", None, {"country_code": "SN", "partner": "Thiès",
                                                                      "twinning": None}, None),
        ],
    }
    text = "\n".join(describe(row, labels, snapshot_names(SNAPSHOT)))
    assert not PYTHON_VALUES.search(text), text
    assert "en attente" in text and "3 avril 2012 à 10 h 14" in text  # Paris time
    assert "Statut de Puits de Thiès (PJ-CCCCCC) : En cours → Terminé" in text
    assert "Thématiques de Puits de Thiès (PJ-CCCCCC) : Santé → Développement économique, coopération économique ; " \
           "Éducation, formation" in text
    assert "Prénom : Inès, Nom : Bernard, Courriel : ines@rennes.fr, Fonction : Élu" in text
    assert "Fonction de Marie Dupont (CT-AAAAAA) : (vide) → Cadre" in text
    assert "Jumelage de Thiès (Sénégal) (CO-BBBBBB) : non → oui" in text
    assert "APD 2009" in text and "APD 2010" not in text
    assert "Pays : Sénégal" in text and "rejetée : année close" in text


def test_a_rejected_change_of_an_earlier_apd_year_is_told_with_its_own_year(labels):
    change = Change(op="update", entity="apd", ref="AP-2009XX", field="amount", old="1000", new="2000",
                    status="rejected")
    line = decision_line(change, labels, snapshot_names(SNAPSHOT))
    assert line.startswith("APD 2009 : ") and "2010" not in line


def test_decision_notices_name_records_as_the_acknowledgement_did(labels):
    change = Change(op="update", entity="projet", ref="PJ-CCCCCC", field="status", old="en_cours", new="termine",
                    status="applied")
    assert decision_line(change, labels, snapshot_names(SNAPSHOT)) == "Statut de Puits de Thiès : En cours → Terminé"
    created = Change(op="create", entity="contact", ref="NOUVEAU-CONTACT#1",
                     new={"first_name": "Inès", "last_name": "Bernard", "title": None, "role": "cadre"})
    assert decision_line(created, labels, Names()) == "Nouveau contact : Prénom : Inès, Nom : Bernard, Fonction : Cadre"


def test_the_acknowledgement_tells_choices_by_their_labels(labels):
    change = ProposedChange(op="update", entity="projet", ref="PJ-CCCCCC", field="status", old="en_cours",
                            new="termine", label="Statut", description="Puits de Thiès")
    assert sentence(change, labels) == "Statut de Puits de Thiès : En cours → Terminé"
    created = ProposedChange(op="create", entity="contact", ref="NOUVEAU-CONTACT#1",
                             new={"first_name": "Inès", "last_name": "Bernard", "role": "elu", "email": None})
    assert not PYTHON_VALUES.search(sentence(created, labels))


def test_when_is_a_french_date_in_paris_time():
    assert when("2012-12-31T23:30:00+00:00") == "1 janvier 2013 à 00 h 30"


def test_review_show_on_the_command_line_has_no_codes(seeded_db_url, seeded_sessions):
    with seeded_sessions.begin() as session:
        coll = collectivite_with(session, cooperations=1)
        project = next(p for c in coll.cooperations if c.kind == "cooperation" for p in c.projects)
        set_id = make_set(session, coll, [
            Change(op="update", entity="projet", ref=project.ref, field="status", old=project.status, new="termine",
                   base_version=project.version, errors=[], matches=[], status="pending")])
    result = CliRunner().invoke(main, ["review", "show", str(set_id)], env={"MAILBOT_DB": seeded_db_url, **REVIEWERS})
    assert result.exit_code == 0, result.output
    assert "→ Terminé" in result.output and "termine" not in result.output.replace("Terminé", "")
    assert "en attente" in result.output and "pending" not in result.output


def test_a_reminder_names_whose_record_misses_a_field():
    from mailbot.outbound.summary import missing_items

    record = {"contacts": [{"ref": "CT-AAAAAA", "first_name": "Marie", "last_name": "Dupont", "title": "",
                            "email": "marie@rennes.fr"}], "apd": [], "cooperations": [], "actions": []}
    missing = missing_items(load_rules(RULES), record, REFERENCES)
    assert "Titre de Marie Dupont (CT-AAAAAA)" in missing
