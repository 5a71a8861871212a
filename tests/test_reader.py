"""The reader (pure, no database): the agent's words, quote depths, where a form ends, the rules'
labels, legacy charsets, blocks bound to their collectivité, moves, and new records named in a reply."""
from __future__ import annotations


import pytest

from mailbot.devtools.client_shapes import set_field
from mailbot.outbound.form import FORM_VERSION, KEYWORD_PARTS, OWNER_RE, form_labels, marker
from mailbot.replies.diff import diff_form
from mailbot.replies.parse import parse_reply, parse_text
from mailbot.replies.words import CONFIRMATION, COURTESY, EMPTY, WORDS, read_words, starts_signature
from store.models import KIND_PREFIX
from tests import replies
from tests.test_parse import REFS, RULES, SENDER, snapshot, summarise, summary_for

LABELS = form_labels(RULES)

SIGNATURE = ("Marie Dupont\nChargée de mission coopération décentralisée\nDirection des relations internationales\n"
             "Mairie de Rennes\n1, place de la Mairie\nCS 63126\n35031 Rennes Cedex\nTél. : 02 99 28 55 55\n"
             "Fax : 02 99 28 55 56\nmarie.dupont@ville-rennes.fr\nwww.rennes.fr")


# --- the agent's words ------------------------------------------------------------------------------------

@pytest.mark.parametrize("note, kind", [
    ("", EMPTY),
    ("RAS", CONFIRMATION),
    ("R.A.S.", CONFIRMATION),
    ("ras\n\nEnvoyé de mon iPhone", CONFIRMATION),
    ("Rien à signaler, merci\n\n" + SIGNATURE, CONFIRMATION),
    ("Bonjour,\nPas de changement pour notre collectivité.\nBien à vous\n\n" + SIGNATURE, CONFIRMATION),
    ("Bonjour,\n\nJe vous confirme que les informations sont à jour.\n\nCordialement,\n" + SIGNATURE, CONFIRMATION),
    ("OK pour moi, merci !\n\nEnvoyé depuis mon appareil Galaxy", CONFIRMATION),
    ("Tout est correct.\n-- \nMarie\nCe message et toutes les pièces jointes sont confidentiels.", CONFIRMATION),
    ("Bonjour,\n\nCordialement,\nMarie Dupont", COURTESY),
    ("Merci beaucoup et bonne journée", COURTESY),
    ("M. X ne fait plus partie de nos services, merci de le retirer", WORDS),
    ("Je transmets au service concerné", WORDS),
    ("Je ne suis plus en poste, merci de me retirer de vos envois", WORDS),
    ("Rien à signaler sauf le budget 2010, qui sera voté en juin.", WORDS),
    ("Le maire a changé", WORDS),
    ("RAS\nLe maire a changé", WORDS),
    ("Voici nos corrections.\nCordialement", WORDS),
    ("Cordialement,\nMarie Dupont\nPS : le numéro de fax a changé", WORDS),
    ("[CT-AAAA1] Ce contact est parti à la retraite", WORDS),
])
def test_what_the_agent_wrote_is_read_as_courtesy_confirmation_or_words(note, kind):
    assert read_words(note).kind == kind, read_words(note)


def test_the_words_passed_on_stop_at_the_signature():
    reading = read_words("Bonjour,\n\nM. Martin est parti en retraite.\n\nBien cordialement,\n" + SIGNATURE)
    assert reading.kind == WORDS and reading.words == "Bonjour,\n\nM. Martin est parti en retraite."


@pytest.mark.parametrize("line, ends", [
    ("-- ", True), ("--", True), ("Cordialement,", True), ("Bien à vous", True), ("Merci, cordialement.", True),
    ("Veuillez agréer, Madame, Monsieur, l'expression de mes salutations distinguées.", True),
    ("Envoyé de mon iPhone", True), ("Sent from my iPad", True), ("Merci", False), ("Titre* : Maire", False),
    ("---- Sénégal ----", False), ("Cordialement je vous signale que le maire a changé", False),
])
def test_what_ends_the_agents_text(line, ends):
    assert starts_signature(line) is ends


# --- quote depths and the end of a form ------------------------------------------------------------------------

def _form_text(record=None) -> list[str]:
    return replies.original_text(summary_for(record or snapshot()))[1].splitlines()


def _under(lines: list[str], after: str, inserted: list[str]) -> list[str]:
    index = next(i for i, line in enumerate(lines) if line.startswith(after)) + 1
    return lines[:index] + inserted + lines[index:]


@pytest.mark.parametrize("depth", [1, 2])
def test_a_value_never_continues_across_a_change_of_quote_depth(depth):
    record = snapshot()
    comment = "Mme Dupont part en retraite en juin"
    lines = _form_text(record)
    title = next(i for i, line in enumerate(lines) if line.startswith("Titre* : Adjointe")) + 1
    quoted = replies.quote(lines[:title], "> " * depth) + [comment] + replies.quote(lines[title:], "> " * depth)
    text = "\n".join(quoted)
    parsed = parse_text(text, LABELS)
    assert diff_form(parsed.forms[0], record, RULES, REFS).changes == ()
    assert parsed.note == f"[CT-AAAA1] {comment}"


def test_a_deeper_line_inside_a_form_is_older_history_and_changes_nothing():
    record = snapshot()
    text = "\n".join(_under(replies.quote(_form_text(record)), "> Titre* : Adjointe", [">> une ligne plus ancienne"]))
    parsed = parse_text(text, LABELS)
    assert diff_form(parsed.forms[0], record, RULES, REFS).changes == () and parsed.note == ""


@pytest.mark.parametrize("ending", [
    ["-- ", "Marie Dupont", "Courriel : marie@ville.fr", "Tél : 02 99 00 00 00"],
    ["Cordialement,", "Marie Dupont", "Courriel : marie@ville.fr"],
    ["Envoyé de mon iPhone", "Courriel : marie@ville.fr"],
    ["Le 12 mars 2012 à 10:02, Atlas a écrit :", "Courriel* : marie@ville.fr"],
])
def test_a_form_cut_before_its_closing_line_ends_at_a_signature_or_a_quotation(ending):
    record = snapshot()
    lines = _form_text(record)
    cut = next(i for i, line in enumerate(lines) if line.startswith("==== 2."))
    for labels in (LABELS, None):  # with or without the rules' labels
        parsed = parse_text("\n".join(lines[:cut] + ending), labels)
        assert not parsed.forms[0].complete
        assert diff_form(parsed.forms[0], record, RULES, REFS).changes == ()


def test_the_rules_labels_make_prose_with_a_colon_a_continuation():
    record = snapshot()
    edit = set_field("PJ-EEEE1", "Description", "Deux volets\nformation : comités de gestion\nsuivi : analyses")
    text = "\n".join(edit(_form_text(record)))
    with_labels = diff_form(parse_text(text, LABELS).forms[0], record, RULES, REFS)
    assert summarise(with_labels) == {("update", "projet", "PJ-EEEE1", "description",
                                       "Deux volets formation : comités de gestion suivi : analyses")}
    without = diff_form(parse_text(text).forms[0], record, RULES, REFS)
    assert summarise(without) == {("update", "projet", "PJ-EEEE1", "description", "Deux volets")}


# --- charsets ------------------------------------------------------------------------------------------------

def _plain(body: bytes, content_type: str, cte: str = "8bit") -> bytes:
    head = f"From: {SENDER}\r\nSubject: Re: fiche\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n" \
           f"Content-Transfer-Encoding: {cte}\r\n\r\n"
    return head.encode() + body


@pytest.mark.parametrize("content_type", ['text/plain; charset="iso-8859-1"', "text/plain; charset=us-ascii",
                                          "text/plain; charset=ISO_8859-1", "text/plain"])
def test_latin1_and_ascii_labels_are_read_as_windows_1252(content_type):
    record = snapshot()
    edit = set_field("APD", "Montant 2010 en euros", "12 500 €")
    body = "\n".join(replies.quote(edit(_form_text(record)))).replace("\u2019", "'").encode("cp1252", errors="replace")
    assert b"\x80" in body
    parsed = parse_reply(_plain(body, content_type), LABELS)
    assert summarise(diff_form(parsed.forms[0], record, RULES, REFS)) == {("update", "apd", "APD-CCC2", "amount", "12500.00")}


def test_a_part_without_a_charset_is_utf_8_when_it_is():
    parsed = parse_reply(_plain("Élodie : RAS\n".encode("utf-8"), "text/plain"))
    assert parsed.note == "Élodie : RAS"


def test_a_message_forwarded_as_an_attachment_gives_only_the_senders_words():
    record = snapshot()
    parsed = parse_reply(replies.forwarded_as_attachment(summary_for(record), lambda lines: lines, SENDER))
    assert parsed.note == "Voir la pièce jointe." and len(parsed.forms) == 1


# --- every block bound to its collectivité ------------------------------------------------------------------------

def _bound(record: dict) -> dict:
    return {**record, "form_version": FORM_VERSION}


def _block_lines(keyword: str, owner: str | None) -> list[str]:
    part = KEYWORD_PARTS.get(keyword, "apd")
    if keyword == "APD":
        fields = ["Montant 2010 en euros : 8 000 €"]
    else:
        values = {"contact": {"Prénom": "Luc", "Nom": "Bernard", "Titre": "Maire", "Courriel": "luc@b.fr"},
                  "reseau": {"Association ou réseau": "AFCCRE"},
                  "cooperation": {"Pays": "Mali", "Collectivité partenaire": "Ségou"},
                  "action": {"Pays": "Mali", "Collectivité partenaire": "Ségou"},
                  "projet": {"Coopération ou action (référence)": "CO-DDDD1", "Intitulé": "Écoles",
                             "Thématiques": "Éducation", "Statut": "En cours"}}[part]
        fields = [f"{label} : {value}" for label, value in values.items()]
    return [marker(keyword, "à remplir", owner), *fields, ""]


@pytest.mark.parametrize("keyword", ["APD", *KEYWORD_PARTS])
def test_a_block_of_another_collectivite_is_reported_never_diffed_whatever_its_kind(keyword):
    record = _bound(snapshot())
    lines = _form_text(record)
    end = next(i for i, line in enumerate(lines) if line.startswith("#### FIN"))
    for owner, code in ((record["code"], None), ("COM-35047", "foreign_block"), (None, "unbound_block")):
        text = "\n".join(lines[:end] + _block_lines(keyword, owner) + lines[end:])
        result = diff_form(parse_text(text, LABELS).forms[0], record, RULES, REFS)
        if code is None:
            assert len(result.changes) == 1 and result.problems == (), keyword
        else:
            assert result.changes == () and [p["code"] for p in result.problems] == [code], (keyword, owner)


def test_a_form_sent_before_blocks_carried_their_code_still_reads_them():
    record = snapshot()  # no form_version: a summary rendered before version 2
    text = "\n".join(_form_text(record)).replace(f" · {record['code']} ·", " ·")
    edit = set_field("APD", "Montant 2010 en euros", "12 500 €")
    result = diff_form(parse_text("\n".join(edit(text.splitlines())), LABELS).forms[0], record, RULES, REFS)
    assert summarise(result) == {("update", "apd", "APD-CCC2", "amount", "12500.00")}


def test_owner_codes_on_markers_are_the_stores_codes_and_markers_stay_short():
    assert {code.split("-")[0] for code in ("REG-53", "DEP-2A", "COM-35238", "EPCI-200039865")} == set(KIND_PREFIX.values())
    for code in ("REG-53", "DEP-2A", "COM-35238", "EPCI-200039865"):
        assert OWNER_RE.match(code)
        for keyword in KEYWORD_PARTS:
            assert len(marker(keyword, "à remplir", code)) < 60


# --- a move with its corrections; new records named in the reply ------------------------------------------------------

def test_a_move_and_the_other_fields_of_its_block_are_both_kept():
    record = snapshot()
    edit = lambda lines: set_field("CO-FFFF1", "Collectivité partenaire", "Jacmel")(  # noqa: E731
        set_field("CO-FFFF1", "C'est une coopération décentralisée (oui/non)", "oui")(lines))
    result = diff_form(parse_text("\n".join(edit(_form_text(record))), LABELS).forms[0], record, RULES, REFS)
    assert summarise(result) == {("move", "action", "CO-FFFF1", "kind", "cooperation"),
                                 ("update", "action", "CO-FFFF1", "partner", "Jacmel")}


def _with_new_blocks(record: dict, blocks: list[list[str]]) -> str:
    lines = _form_text(record)
    end = next(i for i, line in enumerate(lines) if line.startswith("#### FIN"))
    return "\n".join(lines[:end] + [line for block in blocks for line in block] + lines[end:])


def _new(keyword: str, name: str, owner: str, fields: dict) -> list[str]:
    return [marker(f"{keyword} {name}".strip(), "à remplir", owner)] + [f"{k} : {v}" for k, v in fields.items()] + [""]


PROJECT = {"Intitulé": "Écoles", "Thématiques": "Éducation", "Statut": "En cours"}
MALI = {"Pays": "Mali", "Collectivité partenaire": "Ségou"}


@pytest.mark.parametrize("parent", ["NOUVELLE-COOPERATION 1", "nouvelle coopération 1", "1", "NOUVELLE-COOPERATION"])
def test_a_new_project_may_name_the_new_cooperation_of_the_same_reply(parent):
    record = _bound(snapshot())
    code = record["code"]
    text = _with_new_blocks(record, [
        _new("NOUVEAU-PROJET", "", code, {"Coopération ou action (référence)": parent, **PROJECT}),
        _new("NOUVELLE-COOPERATION", "1", code, MALI),
    ])
    result = diff_form(parse_text(text, LABELS).forms[0], record, RULES, REFS)
    cooperation, project = [c for c in result.changes if c.ref.endswith("#2") or c.entity == "projet"]
    assert [c.entity for c in result.changes] == ["cooperation", "projet"]  # the parent first: applied in order
    assert project.parent_ref == cooperation.ref and project.errors == ()


def test_a_name_given_to_two_new_records_names_neither():
    record = _bound(snapshot())
    code = record["code"]
    text = _with_new_blocks(record, [
        _new("NOUVELLE-COOPERATION", "A", code, MALI),
        _new("NOUVELLE-ACTION", "A", code, MALI),
        _new("NOUVEAU-PROJET", "", code, {"Coopération ou action (référence)": "A", **PROJECT}),
    ])
    result = diff_form(parse_text(text, LABELS).forms[0], record, RULES, REFS)
    project = next(c for c in result.changes if c.entity == "projet")
    assert [e["code"] for e in project.errors] == ["ambiguous_name"]
