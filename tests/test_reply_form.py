"""The form as a reader sees it (accents, allowed values, the asterisk explained, « ; » between themes)
and what the parser still reads (the unaccented forms sent before, commas between themes)."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from mailbot.replies.diff import diff_form
from mailbot.outbound.form import FormContext, render_form
from mailbot.replies.parse import parse_text
from mailbot.rules import ReferenceLists, load_rules
from store.refdata import read_toml_list, THEMES_TOML

RULES = load_rules(Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml")
THEMES = {t["code"]: t["label"] for t in read_toml_list(THEMES_TOML, "theme")}
REFERENCES = ReferenceLists(themes=THEMES, networks={"cuf": "Cités Unies France", "afccre": "AFCCRE"})
TOKEN = "r1-abcdefghijklmnop"
SNAPSHOT = {
    "code": "COM-35238", "name": "Rennes",
    "contacts": [{"ref": "CT-AAAAAA", "version": 1, "first_name": "Marie", "last_name": "Dupont",
                  "title": "Adjointe", "email": "marie@rennes.fr", "role": "elu"}],
    "reseaux": [], "apd": [],
    "cooperations": [{"ref": "CO-BBBBBB", "version": 1, "kind": "cooperation", "country": "Sénégal",
                      "country_code": "SN", "partner": "Thiès", "twinning": True, "since_year": 2001,
                      "projects": [{"ref": "PJ-CCCCCC", "version": 1, "title": "Puits",
                                    "themes": ["education", "eau_assainissement"], "status": "en_cours"}]}],
    "actions": [],
}


@pytest.fixture(scope="module")
def form_text() -> str:
    return "\n".join(render_form(SNAPSHOT, TOKEN, FormContext(RULES, REFERENCES)))


def _changes(text: str):
    [form] = parse_text(text).forms
    return diff_form(form, SNAPSHOT, RULES, REFERENCES).changes


def test_capitals_carry_their_accents(form_text):
    for heading in ("#### DÉBUT DU FORMULAIRE ATLAS", "1. ÉLUS ET CADRES", "RÉSEAUX INTERNATIONAUX",
                    "AU DÉVELOPPEMENT", "4. COOPÉRATIONS DÉCENTRALISÉES", "AUTRES ACTIONS EXTÉRIEURES",
                    "#### NOUVEAU-RÉSEAU", "#### NOUVELLE-COOPÉRATION"):
        assert heading in form_text
    for unaccented in ("DEBUT", "ELUS", "RESEAU", "DEVELOPPEMENT", "COOPERATION", "EXTERIEURES"):
        assert unaccented not in form_text


def test_allowed_values_stand_next_to_their_fields_and_the_asterisk_is_explained(form_text):
    lines = form_text.splitlines()
    assert "Les champs marqués d'un astérisque (*) sont obligatoires." in lines
    after_role = lines[lines.index("Fonction : Élu") + 1]
    assert after_role == "Valeurs possibles (Fonction) : Élu ; Cadre"
    after_status = lines[lines.index("Statut* : En cours") + 1]
    assert after_status == "Valeurs possibles (Statut) : En cours ; En sommeil ; Terminé"
    themes_at = lines.index("Thématiques* : Éducation, formation ; Eau et assainissement")
    assert lines[themes_at + 1] == "Valeurs possibles (Thématiques) : celles du bloc NOUVEAU-PROJET"
    new_themes_at = lines.index("Thématiques* :")  # in the NOUVEAU-PROJET block: the whole list
    listed = " ".join(line.strip() for line in lines[new_themes_at + 1:new_themes_at + 12]
                      if not line.startswith("Statut"))
    assert all(label in listed for label in THEMES.values())
    assert all(len(line) <= 80 for line in lines if line.startswith(("Valeurs", "    ")))
    assert lines[lines.index("Jumelage : oui") + 1] == "Valeurs possibles (Jumelage) : oui ; non"


def test_the_form_sent_back_untouched_changes_nothing_and_themes_read_back_exactly(form_text):
    assert _changes(form_text) == ()
    edited = form_text.replace("Thématiques* : Éducation, formation ; Eau et assainissement",
                               "Thématiques* : Culture, patrimoine ; Eau et assainissement ; Santé")
    [change] = _changes(edited)
    assert change.field == "themes" and change.new == ["culture", "eau_assainissement", "sante"]
    assert change.matches == ()  # exact, no guess


def test_a_value_typed_on_a_hint_line_or_a_wrapped_hint_is_no_change(form_text):
    rewrapped = "\n".join(textwrap.fill(line, 40) if line.startswith("Valeurs possibles") else line
                          for line in form_text.splitlines())
    assert _changes(rewrapped) == ()
    status_changed = rewrapped.replace("Statut* : En cours", "Statut* : En sommeil")
    assert [(c.field, c.new) for c in _changes(status_changed)] == [("status", "en_sommeil")]


def test_the_old_unaccented_form_and_commas_between_themes_still_read(form_text):
    old = (form_text.replace("DÉBUT", "DEBUT").replace("NOUVEAU-RÉSEAU", "NOUVEAU-RESEAU")
           .replace("Thématiques* : Éducation, formation ; Eau et assainissement",
                    "Thématiques* : Éducation, formation, Santé")
           )
    old = re.sub(r"(#### NOUVEAU-RESEAU[^\n]*\nAssociation ou réseau\* :)", r"\1 AFCCRE", old)
    changes = {(c.op, c.entity, c.field): c.new for c in _changes(old)}
    assert changes[("update", "projet", "themes")] == ["education", "sante"]
    assert ("create", "reseau", None) in changes


def test_the_html_part_is_a_letter_with_a_table_per_part_and_the_form_below_it():
    from datetime import date

    from mailbot.config import Config
    from mailbot.outbound.render_pool import CampaignInfo
    from mailbot.outbound.outbox import Recipient
    from mailbot.outbound.summary import build_summary
    from mailbot.replies.parse import html_to_text

    record = {**SNAPSHOT, "kind": "commune", "apd": [{"ref": "AP-1", "year": 2009, "amount": "12500"}]}
    config = Config(values={"secret": "s", "from_address": "atlas@cncd.example.fr"})
    message, token = build_summary(config, campaign=CampaignInfo(1, "c2012", 2012, 2010, date(2012, 6, 30)),
                                   form_context=FormContext(RULES, REFERENCES), record=record,
                                   recipients=[Recipient("marie@rennes.fr")], outbound_id=5)
    html = message.get_body(("html",)).get_content()
    titles = ["1. Élus et cadres territoriaux", "2. Associations et réseaux internationaux",
              "3. Aide publique au développement", "4. Coopérations décentralisées (par pays)",
              "5. Autres actions extérieures (par pays)"]
    positions = [html.index(title) for title in titles]
    assert positions == sorted(positions) and positions[-1] < html.index("DÉBUT DU FORMULAIRE ATLAS")
    letter = html[:html.index("DÉBUT DU FORMULAIRE ATLAS")]
    assert letter.count("<table") >= 4  # contacts, APD, cooperations, the project
    for shown in ("<td", "Marie", "Élu", "Sénégal", "Thiès", "Éducation, formation ; Eau et assainissement",
                  "En cours", "12 500 €", "non modifiable", "Aucune adhésion", "astérisque (*)"):
        assert shown in letter, shown
    for code in ("en_cours", "eau_assainissement", ">elu<", "None"):
        assert code not in letter
    # the form read from the HTML part alone (a client that replies in HTML) changes nothing
    [form] = parse_text(html_to_text(html)).forms
    assert form.token == token and diff_form(form, record, RULES, REFERENCES).changes == ()
