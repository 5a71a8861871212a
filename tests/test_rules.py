"""The campaign rules file and the engine that applies it (pure: no database, no network)."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mailbot.rules import (
    FIELD_TYPES,
    PART_ATTRIBUTES,
    ReferenceLists,
    RulesFileError,
    ValueRejected,
    check_apd_year,
    check_email,
    check_record,
    choices_for,
    load_rules,
    match_choice,
    match_country,
    match_several,
    normalise_text,
    parse_euros,
    parse_rules_text,
    parse_year,
    parse_yesno,
)

RULES_FILE = Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml"
THEMES = {
    "sante": "Santé",
    "education": "Éducation, formation",
    "eau_assainissement": "Eau et assainissement",
    "agriculture": "Agriculture, développement rural, sécurité alimentaire",
    "culture": "Culture, patrimoine",
    "developpement_economique": "Développement économique, coopération économique",
}
NETWORKS = {"cuf": "Cités Unies France", "afccre": "Association française du Conseil des communes et régions d'Europe"}
REFS = ReferenceLists(themes=THEMES, networks=NETWORKS)
NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.fixture(scope="module")
def rules():
    return load_rules(RULES_FILE)


def codes(result):
    return {error.field: error.code for error in result.errors}


# ---- the real rules file ------------------------------------------------------------------------

def test_the_2012_rules_file_loads_with_the_five_parts_in_the_circulars_order(rules):
    assert rules.name == "campagne-2012" and rules.year == 2012
    assert [part.key for part in rules.sections] == ["contact", "reseau", "apd", "cooperation", "action"]
    assert list(rules.parts) == ["contact", "reseau", "apd", "cooperation", "projet", "action"]
    assert rules.parts["projet"].within == ("cooperation", "action")
    assert rules.apd_editable_year == 2010 and rules.apd_shown_years == (2007, 2008, 2009, 2010)
    assert (rules.reminder_min_days, rules.reminder_max_count) == (7, 3)
    assert rules.contact.email == "contact-atlas@daect.example.fr" and rules.contact.name == "Prénom NOM"


def test_the_2012_rules_carry_the_circulars_fields_and_asterisks(rules):
    contact = rules.parts["contact"]
    assert [(f.label, f.mandatory) for f in contact.fields] == [
        ("Prénom", True), ("Nom", True), ("Titre", True), ("Courriel", True), ("Fonction", False)]
    assert dict(contact.field("role").choices) == {"elu": "Élu", "cadre": "Cadre"}
    assert rules.parts["reseau"].fields[0].choices_from == "networks"
    assert rules.parts["apd"].fields[0].key == "amount" and rules.parts["apd"].fields[0].type == "euros"
    projet = rules.parts["projet"]
    assert [f.key for f in projet.fields] == ["title", "themes", "status", "status_year", "description",
                                               "start_year", "end_year", "budget", "operators", "beneficiaries"]
    assert dict(projet.field("status").choices) == {"en_cours": "En cours", "en_sommeil": "En sommeil",
                                                    "termine": "Terminé"}
    assert projet.field("themes").choices_from == "themes"
    assert [(f.key, f.type) for f in rules.parts["action"].fields] == \
        [(f.key, f.type) for f in rules.parts["cooperation"].fields]


def test_field_keys_and_lengths_fit_the_store_models(rules):
    from store import models

    model_of = {"contact": models.Contact, "reseau": models.Membership, "apd": models.ApdAmount,
                "cooperation": models.Cooperation, "action": models.Cooperation, "projet": models.Project}
    for part, attributes in PART_ATTRIBUTES.items():
        for attribute in attributes:
            assert hasattr(model_of[part], attribute), (part, attribute)
    columns = {"contact": models.Contact.__table__, "apd": models.ApdAmount.__table__,
               "projet": models.Project.__table__, "cooperation": models.Partner.__table__}
    for part, table in columns.items():
        for rule in rules.parts[part].fields:
            column = table.columns.get("name" if rule.key == "partner" else rule.key)
            length = getattr(getattr(column, "type", None), "length", None)
            if length and rule.max_length:
                assert rule.max_length <= length, (part, rule.key)


# ---- value readers ------------------------------------------------------------------------------

@pytest.mark.parametrize("written, amount", [
    ("12 500 €", "12500"), ("12500,00", "12500"), ("12.500 EUR", "12500"), ("12 500 euros", "12500"),
    ("12 500,50 €", "12500.50"), ("1 234 567", "1234567"), (f"12{NBSP}500{NBSP}€", "12500"),
    (f"12{NNBSP}500 €", "12500"), ("12'500", "12500"), ("12\u2019500", "12500"), ("12.50", "12.50"),
    ("12.500", "12500"), ("12,5", "12.50"), ("1.234.567,89", "1234567.89"), ("1,234,567.89", "1234567.89"),
    ("€ 3 000", "3000"), ("0", "0"), ("15 000 €.", "15000"),
])
def test_amounts_as_people_write_them(written, amount):
    assert parse_euros(written) == Decimal(amount)
    assert parse_euros(written).as_tuple().exponent == -2  # same shape as Numeric(14, 2) gives back


@pytest.mark.parametrize("written, code", [
    ("-500", "negative_amount"), ("\u2212 1 000 €", "negative_amount"), ("abc", "bad_amount"),
    ("douze mille", "bad_amount"), ("€", "bad_amount"), ("1,234.567", "bad_amount"), ("12.5000", "bad_amount"),
    ("15 000 00", "bad_amount"), ("1 000 000 000 000", "bad_amount"),
])
def test_bad_amounts_are_refused_with_a_french_example(written, code):
    with pytest.raises(ValueRejected) as caught:
        parse_euros(written)
    assert caught.value.code == code and "12 500" in caught.value.message


@pytest.mark.parametrize("written, year", [("2010", 2010), (" 1998 ", 1998), ("2011.", 2011)])
def test_years(written, year):
    assert parse_year(written) == year


@pytest.mark.parametrize("written", ["10", "deux mille", "1850", "2200", "2010-2011", "20100"])
def test_bad_years(written):
    with pytest.raises(ValueRejected) as caught:
        parse_year(written)
    assert caught.value.code == "bad_year" and "2010" in caught.value.message


@pytest.mark.parametrize("written, value", [
    ("oui", True), ("OUI", True), ("o", True), ("x", True), ("X", True), ("[x]", True), ("[ X ]", True),
    ("vrai", True), ("yes", True), ("Oui.", True), ("non", False), ("NON", False), ("n", False), ("[ ]", False),
    ("[]", False), ("faux", False), ("no", False), ("", False), ("  ", False), ("peut-être", None), ("ouii", None),
])
def test_yes_no_variants(written, value):
    assert parse_yesno(written) is value


def test_email_is_normalised():
    assert check_email(f" Marie.Dupont@Rennes.FR{NBSP}") == "Marie.Dupont@rennes.fr"


@pytest.mark.parametrize("written", [
    "marie.dupont.rennes.fr", "marie dupont@rennes.fr", "marie..dupont@rennes.fr", "marie@", "marie@rennes",
    "marie@rennes..fr", "@rennes.fr", "marie@rennes.fr, paul@rennes.fr",
])
def test_bad_emails(written):
    with pytest.raises(ValueRejected) as caught:
        check_email(written)
    assert caught.value.code == "bad_email" and "prenom.nom@ville.fr" in caught.value.message


def test_text_is_normalised():
    assert normalise_text(f"  Maire\tadjointe{NBSP}d\u2019Ille-et-Vilaine  ") == "Maire adjointe d'Ille-et-Vilaine"
    assert normalise_text("« Eau pour tous »") == '"Eau pour tous"'
    assert normalise_text("\u201cQuoted\u201d") == '"Quoted"'


STATUSES = {"en_cours": "En cours", "en_sommeil": "En sommeil", "termine": "Terminé"}


@pytest.mark.parametrize("written", ["en cours", "en  cours", "EN COURS", "encours", "En-Cours", "en_cours"])
def test_exact_choices_ignore_case_accents_spaces_and_punctuation(written):
    assert match_choice(written, STATUSES) == ("en_cours", "En cours", 100.0, True)


@pytest.mark.parametrize("written", ["terminé", "termine", "TERMINE"])
def test_termine_is_exact(written):
    assert match_choice(written, STATUSES).code == "termine" and match_choice(written, STATUSES).exact


def test_fuzzy_choices_are_flagged_with_their_score():
    found = match_choice("Terminée", STATUSES)
    assert found.code == "termine" and not found.exact and 85 <= found.score < 100
    assert match_choice("santé publique", THEMES).code == "sante"
    assert match_choice("sommeil", STATUSES).code == "en_sommeil"


def test_unknown_ambiguous_and_too_short_choices_are_not_guessed():
    assert match_choice("fini", STATUSES) is None
    assert match_choice("développement", THEMES) is None  # two themes fit equally: ask
    assert match_choice("de", THEMES) is None
    assert match_choice("ARF", {"airf": "Association internationale des régions francophones"}) is None


def test_several_of_splits_and_reads_labels_with_separators_back_exactly():
    found = match_several("Éducation, formation, Eau et assainissement; santé", THEMES)
    assert [match.code for _, match in found] == ["education", "eau_assainissement", "sante"]
    assert all(match.exact for _, match in found)
    found = match_several("culture / sante\nagriculture et éducation", THEMES)
    assert [match.code for _, match in found] == ["culture", "sante", "agriculture", "education"]
    assert [written for written, _ in match_several("santé, sport", THEMES)] == ["santé", "sport"]
    assert match_several("santé, sport", THEMES)[1][1] is None


@pytest.mark.parametrize("written, code", [
    ("Sénégal", "SN"), ("senegal", "SN"), ("SN", "SN"), ("SEN", "SN"), ("Allemagne", "DE"), ("Germany", "DE"),
    ("Etats-Unis", "US"), ("états unis", "US"), ("Côte d'Ivoire", "CI"), ("Côte d\u2019Ivoire", "CI"),
    ("cote divoire", "CI"), ("RDC", "CD"), ("Vietnam", "VN"), ("Royaume Uni", "GB"), ("Haiti", "HT"),
])
def test_countries(written, code):
    found = match_country(written)
    assert found.code == code and found.exact


def test_countries_fuzzy_and_unknown():
    assert match_country("Senegl").code == "SN" and not match_country("Senegl").exact
    assert match_country("Burkina").code == "BF"
    for unknown in ("Congo", "Corée", "République", "Atlantide", "XX"):
        assert match_country(unknown) is None, unknown


# ---- check_record ---------------------------------------------------------------------------------

CONTACT = {"first_name": "Marie", "last_name": "Dupont", "title": "Maire adjointe", "email": "marie.dupont@rennes.fr",
           "role": "élue"}


def test_a_good_contact(rules):
    result = check_record(rules, "contact", CONTACT, REFS)
    assert result.ok
    assert result.values == {**CONTACT, "role": "elu"}
    assert [(m.field, m.written, m.code) for m in result.matches] == [("role", "élue", "elu")]


def test_missing_mandatory_fields_are_errors_unless_partial(rules):
    result = check_record(rules, "contact", {"first_name": "Marie", "last_name": "  "}, REFS)
    assert codes(result) == {"last_name": "missing", "title": "missing", "email": "missing"}
    assert "« Nom » est obligatoire" in next(e.message for e in result.errors if e.field == "last_name")
    assert check_record(rules, "contact", {"first_name": "Marie"}, REFS, partial=True).ok


def test_partial_checks_only_the_fields_present(rules):
    result = check_record(rules, "contact", {"email": "marie..dupont@rennes.fr"}, REFS, partial=True)
    assert codes(result) == {"email": "bad_email"} and result.values == {}
    cleared = check_record(rules, "contact", {"title": ""}, REFS, partial=True)
    assert codes(cleared) == {"title": "missing"}  # clearing a mandatory field
    optional = check_record(rules, "contact", {"role": ""}, REFS, partial=True)
    assert optional.ok and optional.values == {"role": None}


def test_too_long_text(rules):
    result = check_record(rules, "contact", {"first_name": "M" * 101}, REFS, partial=True)
    assert codes(result) == {"first_name": "too_long"} and "100 caractères" in result.errors[0].message


def test_unknown_field_key_is_a_programming_error(rules):
    with pytest.raises(ValueError):
        check_record(rules, "contact", {"nickname": "Mimi"}, REFS)


def test_network_from_the_reference_list(rules):
    assert check_record(rules, "reseau", {"network": "CUF"}, REFS).values == {"network": "cuf"}
    result = check_record(rules, "reseau", {"network": "Réseau imaginaire"}, REFS)
    assert codes(result) == {"network": "unknown_choice"}
    assert "Cités Unies France" in result.errors[0].message  # short lists are spelt out


def test_apd_amount_and_the_year_lock(rules):
    result = check_record(rules, "apd", {"amount": "15 000 €", "year": "2010"}, REFS, partial=True)
    assert result.ok and result.values == {"amount": Decimal("15000.00")}
    locked = check_record(rules, "apd", {"amount": "9 000", "year": "2008"}, REFS, partial=True)
    assert codes(locked) == {"year": "locked_year"}
    assert "2010" in locked.errors[0].message and "2008" in locked.errors[0].message
    assert check_apd_year(rules, 2010) is None and check_apd_year(rules, 2009).code == "locked_year"
    negative = check_record(rules, "apd", {"amount": "-15 000 €"}, REFS, partial=True)
    assert codes(negative) == {"amount": "negative_amount"}
    bad = check_record(rules, "apd", {"amount": "beaucoup"}, REFS, partial=True)
    assert codes(bad) == {"amount": "bad_amount"}
    assert "par exemple 12 500" in bad.errors[0].message
    assert check_record(rules, "apd", {"amount": ""}, REFS, partial=True).values == {"amount": None}


COOPERATION = {"country_code": "senegal", "partner": "Saint-Louis du Sénégal", "twinning": "x", "since_year": "1998"}


def test_a_good_cooperation(rules):
    result = check_record(rules, "cooperation", COOPERATION, REFS)
    assert result.ok and result.matches == ()
    assert result.values == {"country_code": "SN", "partner": "Saint-Louis du Sénégal", "twinning": True,
                             "since_year": 1998}
    assert check_record(rules, "action", {**COOPERATION, "twinning": ""}, REFS).values["twinning"] is False


def test_cooperation_errors(rules):
    result = check_record(rules, "cooperation", {"country_code": "Atlantide", "partner": "DAKAR",
                                                 "twinning": "peut-être", "since_year": "98"}, REFS)
    assert codes(result) == {"country_code": "unknown_country", "partner": "capitals", "twinning": "bad_yesno",
                             "since_year": "bad_year"}
    capitals = next(e for e in result.errors if e.code == "capitals")
    assert "écrivez le nom en minuscules, par exemple Dakar" in capitals.message
    suggestion = check_record(rules, "cooperation", {"partner": "SAINT-LOUIS DU SENEGAL"}, REFS, partial=True)
    assert "par exemple Saint-Louis du Senegal" in suggestion.errors[0].message
    ambiguous = check_record(rules, "cooperation", {"country_code": "Congo"}, REFS, partial=True)
    assert "Congo-Brazzaville" in ambiguous.errors[0].message and "Congo-Kinshasa" in ambiguous.errors[0].message


def test_fuzzy_country_is_recorded(rules):
    result = check_record(rules, "cooperation", {"country_code": "Madagascr"}, REFS, partial=True)
    assert result.values == {"country_code": "MG"}
    assert [(m.field, m.written, m.code, m.label) for m in result.matches] == \
        [("country_code", "Madagascr", "MG", "Madagascar")]


PROJECT = {"title": "Eau potable à Podor", "themes": "Eau et assainissement, santé publique", "status": "EN COURS",
           "description": "Forages\u00a0et   latrines", "start_year": "2009", "budget": "120 000 €"}


def test_a_good_project_with_fuzzy_matches_recorded(rules):
    result = check_record(rules, "projet", PROJECT, REFS)
    assert result.ok
    assert result.values == {"title": "Eau potable à Podor", "themes": ["eau_assainissement", "sante"],
                             "status": "en_cours", "description": "Forages et latrines", "start_year": 2009,
                             "budget": Decimal("120000.00")}
    assert [(m.field, m.written, m.code) for m in result.matches] == [("themes", "santé publique", "sante")]


def test_unknown_status_and_theme(rules):
    result = check_record(rules, "projet", {**PROJECT, "status": "fini", "themes": "santé, astronautique"}, REFS)
    assert codes(result) == {"status": "unknown_choice", "themes": "unknown_choice"}
    status = next(e for e in result.errors if e.field == "status")
    assert "En cours, En sommeil, Terminé" in status.message
    assert "astronautique" in next(e for e in result.errors if e.field == "themes").message


def test_status_year_is_mandatory_for_a_finished_project(rules):
    finished = check_record(rules, "projet", {**PROJECT, "status": "Terminé"}, REFS)
    assert codes(finished) == {"status_year": "missing"}
    assert "« Statut » est « Terminé »" in finished.errors[0].message
    assert check_record(rules, "projet", {**PROJECT, "status": "terminé", "status_year": "2011"}, REFS).ok
    assert check_record(rules, "projet", {**PROJECT, "status": "en sommeil"}, REFS).ok
    # an update of the status alone cannot see the stored year; an explicit blank year can be judged
    assert check_record(rules, "projet", {"status": "terminé"}, REFS, partial=True).ok
    blank = check_record(rules, "projet", {"status": "terminé", "status_year": ""}, REFS, partial=True)
    assert codes(blank) == {"status_year": "missing"}


def test_themes_are_mandatory_and_kept_in_the_order_written_once_each(rules):
    assert codes(check_record(rules, "projet", {**PROJECT, "themes": " , "}, REFS)) == {"themes": "missing"}
    result = check_record(rules, "projet", {"themes": "santé; culture, Santé"}, REFS, partial=True)
    assert result.values == {"themes": ["sante", "culture"]}


def test_partner_names_in_capitals_can_be_normalised_when_the_rules_say_so(tmp_path):
    field = 'type = "partner_name"\nmandatory = true\n'
    text = RULES_FILE.read_text(encoding="utf-8").replace(field, field + 'normalise = "titlecase"\n')
    rules = parse_rules_text(text, source="titlecase.toml")
    result = check_record(rules, "cooperation", {"partner": "DAKAR"}, REFS, partial=True)
    assert result.ok and result.values == {"partner": "Dakar"}
    assert [(m.written, m.code) for m in result.matches] == [("DAKAR", "Dakar")]


def test_choices_for_reads_reference_lists(rules):
    assert choices_for(rules.parts["projet"].field("themes"), REFS) == THEMES
    assert choices_for(rules.parts["projet"].field("status"), REFS) == STATUSES


def test_every_type_has_a_reader():
    assert set(FIELD_TYPES) == {"text", "email", "euros", "year", "yesno", "one-of", "several-of", "country",
                                "partner_name"}


# ---- broken rules files are refused when they load ------------------------------------------------

GOOD = RULES_FILE.read_text(encoding="utf-8")


def refused(tmp_path, text: str) -> str:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesFileError) as caught:
        load_rules(path)
    assert str(path) in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize("old, new, expected", [
    ('type = "email"', 'type = "courriel"', "partie 'contact', champ 'email' : type inconnu 'courriel'"),
    ('label = "Nom"\n', '', "partie 'contact', champ 'last_name' : `label` manque"),
    ('label = "Nom"\n', 'label = "Nom : de famille"\n', "sans ':'"),
    ('choices_from = "networks"\n', '', "partie 'reseau', champ 'network' : un champ one-of demande `choices` ou"),
    ('choices_from = "networks"', 'choices_from = "pays"', "les listes connues sont themes, networks"),
    ('key = "last_name"', 'key = "first_name"', "partie 'contact' : le champ 'first_name' est défini deux fois"),
    ('label = "Nom"\n', 'label = "prénom"\n', "deux champs ont le libellé 'prenom'"),
    ('key = "last_name"', 'key = "surname"', "champ 'surname' : la base ne garde pas cet attribut"),
    ('mandatory = true\nmax_length = 100', 'mandatroy = true\nmax_length = 100', "clé inconnue `mandatroy`"),
    ('mandatory = true\nmax_length = 100', 'mandatory = "oui"\nmax_length = 100', "`mandatory` doit être true ou false"),
    ("editable_year = 2010", "editable_year = 2009", "doit être croissante, sans répétition, et finir par editable_year"),
    ("shown_years = [2007, 2008, 2009, 2010]", "shown_years = [2010, 2009]", "shown_years"),
    ("shown_years = [2007, 2008, 2009, 2010]", 'shown_years = "2010"', "`shown_years` doit être une liste"),
    ("editable_year = 2010", "editable_year = 2013\n", "editable_year : 2013 est après l'année de la campagne 2012"),
    ("max_count = 3", "max_count = -1", "ne peuvent pas être négatifs"),
    ('email = "contact-atlas@daect.example.fr"', 'email = "contact-atlas"', "[contact] email"),
    ('mandatory_when = { status = "termine" }', 'mandatory_when = { status = "fini" }', "les codes de mandatory_when"),
    ('mandatory_when = { status = "termine" }', 'mandatory_when = { statut = "termine" }', "mandatory_when nomme"),
    ('key = "reseau"', 'key = "associations"', "partie 'associations' : partie inconnue"),
    ('within = ["cooperation", "action"]', 'within = ["contact", "projets"]', "`within` nomme 'projets'"),
    ('max_new = 30\nwithin', 'max_new = 0\nwithin', "partie 'projet' : `max_new` doit être un entier positif"),
    ('max_new = 30\nwithin', 'max_new = "trente"\nwithin', "`max_new` doit être un entier"),
    ('label = "Montant 2010 en euros"', 'label = "Montant 2009 en euros"', "nomme 2009, mais editable_year vaut 2010"),
])
def test_broken_rules_files_are_refused_with_a_clear_message(tmp_path, old, new, expected):
    assert old in GOOD, old
    message = refused(tmp_path, GOOD.replace(old, new, 1))
    assert expected in message, message


def test_a_one_of_without_choices_and_a_bad_normalise(tmp_path):
    choices = 'choices = [\n    { code = "elu", label = "Élu" },\n    { code = "cadre", label = "Cadre" },\n]\n'
    text = GOOD.replace(choices, "", 1)
    expected = "partie 'contact', champ 'role' : un champ one-of demande `choices` ou `choices_from`"
    assert expected in refused(tmp_path, text)
    text = GOOD.replace('key = "title"\nlabel = "Titre"\ntype = "text"\n',
                        'key = "title"\nlabel = "Titre"\ntype = "text"\nnormalise = "titlecase"\n', 1)
    assert "seulement `normalise = \"titlecase\"` sur un champ partner_name" in refused(tmp_path, text)


def test_a_missing_part_and_every_problem_at_once(tmp_path):
    head, _, _ = GOOD.partition("# ---- e. Autres actions extérieures")
    message = refused(tmp_path, head.replace('type = "year"', 'type = "annee"', 1))
    assert "partie 'action' : manque" in message and "type inconnu 'annee'" in message and "2 problèmes" in message


def test_not_toml_or_not_there(tmp_path):
    assert "TOML invalide" in refused(tmp_path, "name = \n")
    with pytest.raises(RulesFileError, match="impossible de lire le fichier"):
        load_rules(tmp_path / "absent.toml")


@pytest.mark.parametrize("amount", ["0", "7", "12500", "12500.50", "1234567.8", "999999999999.99", "-5"])
def test_amounts_are_written_as_babel_writes_them_and_read_back(amount):
    from babel.numbers import format_decimal

    from mailbot.outbound.render import euros

    value = Decimal(amount)
    pattern = "#,##0" if value == value.to_integral_value() else "#,##0.00"
    assert euros(value) == format_decimal(value, format=pattern, locale="fr_FR") + " €"
    if value >= 0:
        assert parse_euros(euros(value)) == value
