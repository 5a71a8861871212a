"""French a préfet would sign: articles and elisions before every collectivité's name (mailbot.grammar),
over the whole reference data, in the subjects and bodies the bot writes."""
from __future__ import annotations

import csv
from html import unescape
import re
import unicodedata
from types import SimpleNamespace

import pytest

from mailbot import grammar
from mailbot.outbound.render import make_environment, render_parts
from store.models import collectivite_code
from store.refdata import ARTICLES_CSV, read_collectivites

CAMPAIGN = SimpleNamespace(year=2012)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@pytest.fixture(scope="module")
def every_collectivite():
    return [{"kind": r["kind"], "code": collectivite_code(r["kind"], r["code"]), "name": r["nom"], "insee": r["code"],
             "epci_type": r["type"]} for r in read_collectivites()]


@pytest.fixture(scope="module")
def insee_articles():
    """The data file read independently of mailbot.grammar: (kind, code) → (TNCC, article alone)."""
    with ARTICLES_CSV.open(encoding="utf-8", newline="") as handle:
        return {(r["kind"], r["code"]): (int(r["tncc"]), r["article"]) for r in csv.DictReader(handle)}


SUBJECT = re.compile(r"^\[Atlas 2012\] Mise à jour de la fiche (?P<of>.+) \((?P<code>[A-Z]+-[0-9A-Z]+)\)$")
NEVER = re.compile(r"\b(?:de|à) (?:Le|Les|le|les) |\bde (?=[AEIOUYŒaeiouyœ])|\bd'[^AEIOUYHŒaeiouyhœ]|\b(?:de|à) [Aa]ux ")
ARTICLE_AFTER_DE = {"le": "du ", "la": "de la ", "les": "des ", "l'": "de l'"}


def test_the_subject_of_every_collectivite_of_the_reference_data_follows_the_rules(every_collectivite, insee_articles):
    env = make_environment()
    template = env.get_template("agent_summary.subject.j2")
    wrong: list[str] = []
    for item in every_collectivite:
        subject = template.render(kind="summary", campaign=CAMPAIGN, collectivite=item).strip()
        match = SUBJECT.match(subject)
        if not match or match["code"] != item["code"]:
            wrong.append(f"shape: {subject}")
            continue
        of, name = match["of"], item["name"]
        folded = _fold(of)
        if NEVER.search(" ".join(folded.split()[:3]) + " "):  # what we write; the rest is the official name
            wrong.append(f"forbidden sequence: {subject}")
        kind = item["kind"]
        if kind in ("region", "departement"):
            tncc, article = insee_articles[(kind, item["insee"])]
            if article:  # agreement with the name's gender and number (INSEE's TNCC, or its use alone)
                expected = ARTICLE_AFTER_DE[article] + name
            elif name.startswith(("La ", "L'")):
                expected = "de " + name
            else:
                expected = ("d'" if _fold(name)[0] in "AEIOUY" else "de ") + name
            if of != expected:
                wrong.append(f"article: {of!r}, expected {expected!r}")
        elif kind == "commune":
            if name.startswith("Le "):
                expected = "du " + name[3:]
            elif name.startswith("Les "):
                expected = "des " + name[4:]
            elif name.startswith(("La ", "L'", "Los ")):
                expected = "de " + name
            elif _fold(name)[0] in "AEIOUYŒ" or _fold(name)[0] == "H" and insee_articles.get(("commune", item["insee"]), (1, ""))[0] == 1:
                expected = "d'" + name
            else:
                expected = "de " + name
            if of != expected:
                wrong.append(f"commune: {of!r}, expected {expected!r}")
        else:  # EPCI: its type written out, with the type's article
            abbreviation = name.split(" ", 1)[0]
            if abbreviation in ("CC", "CA", "CU") and not of.startswith("de la communauté "):
                wrong.append(f"EPCI type: {of!r}")
            if abbreviation == "CC" and of != "de la communauté de communes " + name[3:]:
                wrong.append(f"EPCI name: {of!r}")
    assert len(every_collectivite) > 36_000
    assert not wrong, f"{len(wrong)} subjects break the rules, e.g. {wrong[:10]}"


@pytest.mark.parametrize("kind, code, name, of, to, for_", [
    ("departement", "35", "Ille-et-Vilaine", "de l'Ille-et-Vilaine", "à l'Ille-et-Vilaine", "pour l'Ille-et-Vilaine"),
    ("departement", "29", "Finistère", "du Finistère", "au Finistère", "pour le Finistère"),
    ("departement", "92", "Hauts-de-Seine", "des Hauts-de-Seine", "aux Hauts-de-Seine", "pour les Hauts-de-Seine"),
    ("departement", "51", "Marne", "de la Marne", "à la Marne", "pour la Marne"),
    ("departement", "34", "Hérault", "de l'Hérault", "à l'Hérault", "pour l'Hérault"),
    ("departement", "75", "Paris", "de Paris", "à Paris", "pour Paris"),
    ("region", "04", "La Réunion", "de La Réunion", "à La Réunion", "pour La Réunion"),
    ("region", "44", "Grand Est", "du Grand Est", "au Grand Est", "pour le Grand Est"),
    ("region", "52", "Pays de la Loire", "des Pays de la Loire", "aux Pays de la Loire", "pour les Pays de la Loire"),
    ("commune", "76351", "Le Havre", "du Havre", "au Havre", "pour Le Havre"),
    ("commune", "35238", "Rennes", "de Rennes", "à Rennes", "pour Rennes"),
    ("commune", "45234", "Orléans", "d'Orléans", "à Orléans", "pour Orléans"),
    ("commune", "17300", "La Rochelle", "de La Rochelle", "à La Rochelle", "pour La Rochelle"),
    ("commune", "97101", "Les Abymes", "des Abymes", "aux Abymes", "pour Les Abymes"),
    ("commune", "02366", "Hannapes", "de Hannapes", "à Hannapes", "pour Hannapes"),  # h aspiré (TNCC 0)
    ("commune", "02368", "Haramont", "d'Haramont", "à Haramont", "pour Haramont"),  # h muet (TNCC 1)
    ("epci", "200004802", "CC du Pays de Fayence", "de la communauté de communes du Pays de Fayence",
     "à la communauté de communes du Pays de Fayence", "pour la communauté de communes du Pays de Fayence"),
    ("epci", "200033579", "CU d'Arras", "de la communauté urbaine d'Arras", "à la communauté urbaine d'Arras",
     "pour la communauté urbaine d'Arras"),
    ("epci", "200010650", "CA du Grand Dole", "de la communauté d'agglomération du Grand Dole",
     "à la communauté d'agglomération du Grand Dole", "pour la communauté d'agglomération du Grand Dole"),
    ("epci", "243500139", "Rennes Métropole", "de Rennes Métropole", "à Rennes Métropole", "pour Rennes Métropole"),
    ("epci", "200046977", "Métropole de Lyon", "de la Métropole de Lyon", "à la Métropole de Lyon",
     "pour la Métropole de Lyon"),
    ("epci", "246700488", "Eurométropole de Strasbourg", "de l'Eurométropole de Strasbourg",
     "à l'Eurométropole de Strasbourg", "pour l'Eurométropole de Strasbourg"),
])
def test_prepositions_before_each_kind_of_collectivite(kind, code, name, of, to, for_):
    # the kind is read from the code's prefix when the caller has only a name and a code
    collectivite = {"code": collectivite_code(kind, code), "name": name}
    assert (grammar.de(collectivite), grammar.a(collectivite), grammar.pour(collectivite)) == (of, to, for_)


def test_a_name_outside_the_reference_data_elides_before_a_vowel_and_contracts_its_article():
    assert grammar.de({"kind": "commune", "code": "COM-99999", "name": "Île-Nouvelle"}) == "d'Île-Nouvelle"
    assert grammar.de({"kind": "commune", "code": "COM-99999", "name": "Les Nouvelles"}) == "des Nouvelles"
    assert grammar.de({"kind": "epci", "code": "EPCI-1", "name": "Communauté de communes du Val"}) == \
        "de la Communauté de communes du Val"


def test_bodies_and_subjects_of_the_answers_use_the_grammar():
    env = make_environment()
    collectivite = {"name": "Ille-et-Vilaine", "code": "DEP-35"}
    subject, text, html = render_parts(env, "agent_decision", {
        "collectivite": collectivite, "received_on": "3 avril 2012", "approved": ["x"], "rejected": []})
    assert "vos modifications pour l'Ille-et-Vilaine ont été examinées" in subject
    assert "pour\nl'Ille-et-Vilaine (DEP-35)" in text or "pour l'Ille-et-Vilaine (DEP-35)" in " ".join(text.split())
    assert "pour l'Ille-et-Vilaine" in unescape(html)
