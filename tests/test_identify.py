"""Identifying a collectivité from a message without a token (pure: mailbot.replies.identify), against the
real reference data (every commune, EPCI, département and région)."""
from __future__ import annotations

import pytest

from mailbot.replies.identify import (
    Directory,
    Entry,
    MessageText,
    departement_of_postcode,
    fold,
    identify,
    luhn_ok,
    resolve_choice,
    split_own_text,
)
from store.refdata import collectivite_rows, read_collectivites


@pytest.fixture(scope="module")
def directory() -> Directory:
    rows = collectivite_rows(read_collectivites())
    entries = [Entry(n, r["code"], r["kind"], r["name"], r["insee"], r["siren"], r["departement"], r["region"],
                     r["code"] in ("COM-35238", "COM-29232"), r["population"], r["epci_type"])
               for n, r in enumerate(rows, start=1)]
    return Directory(entries, {r["insee"]: r["name"] for r in rows if r["kind"] == "departement"})


def read(body: str, subject: str = "", sender: str = "agent@exemple.fr") -> MessageText:
    own, forwarded = split_own_text(body)
    return MessageText(own, forwarded, subject, sender)


def codes(result) -> list[str]:
    return [c.entry.code for c in result.candidates]


def test_folding_ignores_accents_case_punctuation_and_abbreviations():
    assert fold("Saint-Étienne-du-Rouvray") == fold("ST ETIENNE DU ROUVRAY") == "saint etienne du rouvray"
    assert fold("L’Haÿ-les-Roses") == "l hay les roses"


def test_postcodes_give_their_departement():
    assert [departement_of_postcode(p) for p in ("35000", "20000", "20200", "97400", "01000")] == ["35", "2A", "2B", "974", "01"]


def test_siren_is_read_with_its_check_digit(directory):
    assert luhn_ok("213500853") and not luhn_ok("213500854")
    assert codes(identify(read("Notre SIREN : 213 500 853.\nCordialement"), directory)) == ["COM-35085"]
    assert identify(read("Appelez le 021 350 0854 svp"), directory).outcome == "none"


def test_our_codes_and_insee_codes(directory):
    assert identify(read("Fiche COM-29232 à mettre à jour"), directory).chosen.name == "Quimper"
    assert identify(read("code INSEE : 35238"), directory).chosen.name == "Rennes"


def test_postcode_and_name_in_a_signature(directory):
    found = identify(read("Bonjour,\nje souhaite mettre à jour notre fiche.\nCordialement,\nJean Martin\n"
                          "1 place de la Mairie\n35270 Combourg"), directory)
    assert found.outcome == "one" and found.chosen.code == "COM-35085" and found.territory == ("35",)


def test_named_bodies(directory):
    assert identify(read("La Mairie de Quimper souhaite mettre à jour sa fiche."), directory).chosen.code == "COM-29232"
    epci = identify(read("Communauté de communes du Val de Gâtine\nService international"), directory)
    assert epci.chosen.code == "EPCI-200069748"
    assert identify(read("Le Conseil départemental des Vosges"), directory).chosen.code == "DEP-88"
    assert identify(read("Conseil régional de Bretagne"), directory).chosen.code == "REG-53"


def test_a_typo_is_a_question_not_a_guess(directory):
    found = identify(read("Ville de Renes"), directory)
    assert found.outcome == "several" and "COM-35238" in codes(found) and len(found.candidates) <= 5


def test_an_ambiguous_name_gives_at_most_five_candidates(directory):
    found = identify(read("Bonjour,\nCordialement,\nMarie Durand\nMairie de Saint-Martin"), directory)
    assert found.outcome == "several" and len(found.candidates) == 5
    assert {c.entry.name for c in found.candidates} == {"Saint-Martin"}
    assert directory.label(found.candidates[1].entry).startswith("Saint-Martin, commune, ")


def test_the_prefectures_territory_narrows_the_search(directory):
    found = identify(read("Mairie de Saint-Martin"), directory, territory=("67",))
    assert found.outcome == "one" and found.chosen.code == "COM-67426"


def test_the_forwarded_circular_is_not_read_for_clues(directory):
    body = ("Bonjour, nous souhaitons mettre à jour notre fiche.\n\n"
            "-------- Message transféré --------\nDe : Préfecture\nObjet : circulaire\n\n"
            "COM-35238 Rennes\nCOM-29232 Quimper\nMairie de Nancy\n")
    text = read(body)
    assert "Quimper" in text.forwarded and "Quimper" not in text.own
    assert identify(text, directory).outcome == "none"


def test_quoted_lines_and_outlook_headers_are_set_aside():
    own, forwarded = split_own_text("Le 2\n\nLe lun. 3 sept. 2012 à 10:00, atlas@x.fr a écrit :\n> 1. Saint-Martin")
    assert own == "Le 2" and "Saint-Martin" in forwarded
    own, forwarded = split_own_text("Voir ci-dessous\n\nDe : Préfecture du Nord\nEnvoyé : lundi\nObjet : Atlas\nMairie de Lille")
    assert own == "Voir ci-dessous" and "Lille" in forwarded


def test_the_senders_domain_is_only_a_hint(directory):
    found = identify(read("Bonjour, je souhaite mettre à jour notre fiche.", sender="jean@ville-quimper.fr"), directory)
    assert found.outcome == "several" and codes(found) == ["COM-29232"]


def test_nothing_to_go_on(directory):
    assert identify(read("Bonjour, je souhaite mettre à jour notre fiche. Merci."), directory).outcome == "none"


@pytest.mark.parametrize("answer, expected", [
    ("2", 1), ("Le 3.", 2), ("c'est la COM-65392", None), ("Celle des Hautes-Pyrénées", None),
    ("Saint-Martin (54)", None), ("je ne sais pas", "none"),
])
def test_an_answer_to_our_question_settles_it(directory, answer, expected):
    candidates = [c.entry for c in identify(read("Mairie de Saint-Martin"), directory).candidates]
    quoted = f"{answer}\n\nLe lun. 3 sept. 2012 à 10:00, atlas@cncd.example.fr a écrit :\n> 1. {candidates[0].name}"
    chosen = resolve_choice(read(quoted), candidates, directory)
    if expected == "none":
        assert chosen is None
    elif expected is None:
        wanted = {"COM-65392": "65", "Hautes-Pyrénées": "65", "(54)": "54"}
        dep = next(v for k, v in wanted.items() if k in answer)
        assert chosen.departement == dep
    else:
        assert chosen == candidates[expected]
