"""Understanding replies: each client's shape, every edit found, none invented (pure, no database)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbot.devtools.client_shapes import set_field
from mailbot.config import load_config
from mailbot.replies.diff import diff_form
from mailbot.outbound.form import FormContext
from mailbot.outbound.outbox import Recipient
from mailbot.replies.parse import parse_reply, parse_text
from mailbot.rules import ReferenceLists, load_rules
from mailbot.outbound.summary import build_summary
from tests import replies

RULES = load_rules(Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml")
REFS = ReferenceLists(
    themes={"sante": "Santé", "education": "Éducation, formation", "eau_assainissement": "Eau et assainissement",
            "culture": "Culture, patrimoine"},
    networks={"cuf": "Cités Unies France", "afccre": "AFCCRE", "resacoop": "RESACOOP"},
)
CONFIG = load_config(environ={"MAILBOT_SECRET": "s", "MAILBOT_FROM": "atlas@cncd.example.fr"})
SENDER = "marie.dupont@ville-rennes.example.fr"


@dataclass
class FakeCampaign:
    name: str = "c2012"
    year: int = 2012
    apd_editable_year: int = 2010
    deadline: date = date(2012, 6, 30)
    id: int = 1


def snapshot(code="COM-35238", name="Rennes", prefix="") -> dict:
    return {
        "code": code, "kind": "commune", "name": name, "siren": None, "departement": "35", "region": "53",
        "population": 200000, "in_atlas": True, "version": 1,
        "contacts": [
            {"ref": f"CT-{prefix}AAAA1", "version": 3, "role": "elu", "first_name": "Marie", "last_name": "Dupont",
             "title": "Adjointe aux relations internationales", "email": "marie.dupont@ville-rennes.example.fr",
             "email_state": "ok"},
            {"ref": f"CT-{prefix}AAAA2", "version": 1, "role": "cadre", "first_name": "Jean", "last_name": "Martin",
             "title": "Directeur des relations internationales et européennes, chargé des jumelages et de la "
                      "coopération décentralisée avec l'Afrique de l'Ouest", "email": "j.martin@ville-rennes.example.fr",
             "email_state": "ok"},
        ],
        "reseaux": [{"ref": f"AD-{prefix}BBBB1", "version": 1, "network": "cuf", "name": "Cités Unies France"}],
        "apd": [{"ref": f"APD-{prefix}CCC1", "version": 1, "year": 2009, "amount": "10000.00", "document_name": None},
                {"ref": f"APD-{prefix}CCC2", "version": 1, "year": 2010, "amount": None, "document_name": None}],
        "cooperations": [{
            "ref": f"CO-{prefix}DDDD1", "version": 2, "kind": "cooperation", "country_code": "SN", "country": "Sénégal",
            "partner": "Dakar", "partner_ref": "PA-1", "twinning": False, "since_year": 1992,
            "projects": [{
                "ref": f"PJ-{prefix}EEEE1", "version": 1, "title": "Accès à l'eau dans les quartiers périphériques",
                "themes": ["eau_assainissement", "sante"], "status": "en_cours", "status_year": 2010,
                "description": "Réhabilitation de bornes-fontaines et formation des comités de gestion de l'eau "
                               "dans trois quartiers, avec l'appui des services techniques de la ville de Dakar.",
                "start_year": 2008, "end_year": None, "budget": "45000.00", "operators": "Eau Vive",
                "beneficiaries": None}],
        }],
        "actions": [{
            "ref": f"CO-{prefix}FFFF1", "version": 1, "kind": "action", "country_code": "HT", "country": "Haïti",
            "partner": None, "partner_ref": None, "twinning": False, "since_year": 2010, "projects": [],
        }],
    }


def summary_for(record: dict, outbound_id: int = 42) -> bytes:
    message, _token = build_summary(CONFIG, campaign=FakeCampaign(), form_context=FormContext(RULES, REFS),
                                    record=record, recipients=[Recipient(SENDER)], outbound_id=outbound_id)
    return message.as_bytes()


# --- editing helpers: what an agent does to the form lines ----------------------------------------------------

def fill_new_block(keyword: str, values: dict[str, str], copies: int = 1):
    def edit(lines: list[str]) -> list[str]:
        start = next(i for i, l in enumerate(lines) if l.startswith(f"#### {keyword} "))
        end = next(i for i in range(start + 1, len(lines)) if not lines[i].strip())
        block = []
        for line in lines[start:end]:
            label = line.split(":")[0].rstrip(" *")
            if label in values:
                line = f"{line.split(':')[0]}: {values[label]}"
            block.append(line)
        return lines[:start] + (block + [""]) * copies + lines[start:]
    return edit


def combine(*edits):
    def edit(lines):
        for e in edits:
            lines = e(lines)
        return lines
    return edit


def unchanged(lines):
    return lines


TYPICAL_EDIT = combine(
    set_field("CT-AAAA1", "Courriel", "m.dupont@ville-rennes.example.fr"),
    set_field("CT-AAAA2", "Titre", "Directeur général adjoint"),
    set_field("PJ-EEEE1", "Statut", "terminé"),
    set_field("PJ-EEEE1", "Année du statut", "2011"),
    set_field("PJ-EEEE1", "Thématiques", "Eau et assainissement, santé publique, culture"),
    set_field("AD-BBBB1", "Supprimer cette fiche (oui/non)", "oui"),
    set_field("CO-FFFF1", "C'est une coopération décentralisée (oui/non)", "oui"),
    set_field("APD", "Montant 2010 en euros", "12 500 €"),
    fill_new_block("NOUVEAU-CONTACT", {"Prénom": "Paul", "Nom": "Durand", "Titre": "Chargé de mission",
                                       "Courriel": "p.durand@ville-rennes.example.fr", "Fonction": "cadre"}, copies=2),
)

EXPECTED = {
    ("update", "contact", "CT-AAAA1", "email", "m.dupont@ville-rennes.example.fr"),
    ("update", "contact", "CT-AAAA2", "title", "Directeur général adjoint"),
    ("update", "projet", "PJ-EEEE1", "status", "termine"),
    ("update", "projet", "PJ-EEEE1", "status_year", 2011),
    ("delete", "reseau", "AD-BBBB1", None, None),
    ("move", "action", "CO-FFFF1", "kind", "cooperation"),
    ("update", "apd", "APD-CCC2", "amount", "12500.00"),
    ("create", "contact", "NOUVEAU-CONTACT#1", None, None),
    ("create", "contact", "NOUVEAU-CONTACT#2", None, None),
    ("update", "projet", "PJ-EEEE1", "themes", ("eau_assainissement", "sante", "culture")),
}


def changes_of(raw: bytes, record: dict):
    parsed = parse_reply(raw)
    assert len(parsed.forms) == 1, parsed
    result = diff_form(parsed.forms[0], record, RULES, REFS)
    return parsed, result


def summarise(result) -> set:
    out = set()
    for c in result.changes:
        new = c.new if c.op in ("update", "move") else None
        if isinstance(new, list):
            new = tuple(new)
        out.add((c.op, c.entity, c.ref, c.field, new))
    return out


@pytest.mark.parametrize("client", sorted(replies.CLIENTS))
def test_every_client_shape_gives_exactly_the_expected_changes(client):
    record = snapshot()
    raw = replies.CLIENTS[client](summary_for(record), TYPICAL_EDIT, SENDER)
    parsed, result = changes_of(raw, record)
    assert summarise(result) == EXPECTED, client
    assert not result.problems
    errors = [e for c in result.changes for e in c.errors]
    assert errors == [], errors
    themes = next(c for c in result.changes if c.field == "themes")
    assert any(m["written"].lower() == "santé publique" and m["label"] == "Santé" for m in themes.matches)
    created = [c for c in result.changes if c.op == "create"]
    assert created[0].new["email"] == "p.durand@ville-rennes.example.fr" and created[0].new["role"] == "cadre"


@pytest.mark.parametrize("client", sorted(replies.CLIENTS))
def test_an_untouched_form_gives_no_change(client):
    record = snapshot()
    raw = replies.CLIENTS[client](summary_for(record), unchanged, SENDER)
    _parsed, result = changes_of(raw, record)
    assert result.changes == () and result.problems == ()


@pytest.mark.parametrize("client", sorted(replies.CLIENTS))
def test_headers_parsed_once_read_exactly_as_the_default_policy_reads_them(client):
    """parse_message shares parsed headers between reads (speed); every part must still read the same."""
    from email import policy
    from email.parser import BytesParser

    from mailbot.replies.parse import parse_message

    raw = replies.CLIENTS[client](summary_for(snapshot()), TYPICAL_EDIT, SENDER)
    for _ in range(2):  # the second time, every header comes from the memo
        ours, reference = parse_message(raw), BytesParser(policy=policy.default).parsebytes(raw)
        pairs = list(zip(ours.walk(), reference.walk(), strict=True))
        for mine, theirs in pairs:
            assert mine.items() == theirs.items()
            assert (mine.get_content_type(), mine.get_params(), mine.get_content_disposition()) == \
                   (theirs.get_content_type(), theirs.get_params(), theirs.get_content_disposition())
            if not mine.is_multipart():
                assert mine.get_content() == theirs.get_content()


def test_long_value_rewrapped_is_joined_back_and_unchanged():
    record = snapshot()
    raw = replies.hard_wrapped(summary_for(record), unchanged, SENDER, width=60)
    _parsed, result = changes_of(raw, record)
    assert result.changes == ()


def test_a_block_cut_off_is_not_a_deletion():
    record = snapshot()
    text = replies.original_text(summary_for(record))[1]
    lines = text.splitlines()
    cut = next(i for i, l in enumerate(lines) if l.startswith("#### CT-AAAA2")) + 3  # only the first fields
    parsed = parse_text("\n".join(lines[:cut]))
    result = diff_form(parsed.forms[0], record, RULES, REFS)
    assert result.changes == ()
    assert not parsed.forms[0].complete


def test_the_agents_note_is_kept_and_quoted_history_is_not():
    record = snapshot()
    raw = replies.gmail(summary_for(record), unchanged, SENDER, note="Tout est correct sauf le budget.\nMerci")
    parsed = parse_reply(raw)
    assert parsed.note == "Tout est correct sauf le budget.\nMerci"


def test_two_forms_in_one_message_each_on_its_own():
    a, b = snapshot(), snapshot(code="COM-35047", name="Bruz", prefix="Z")
    raw = replies.two_forms(summary_for(a, 1), summary_for(b, 2), set_field("CT-AAAA1", "Titre", "Maire"),
                            set_field("CT-ZAAAA2", "Nom", "Martineau"), SENDER)
    parsed = parse_reply(raw)
    assert len(parsed.forms) == 2
    first, second = (diff_form(f, s, RULES, REFS) for f, s in zip(parsed.forms, (a, b)))
    assert summarise(first) == {("update", "contact", "CT-AAAA1", "title", "Maire")}
    assert summarise(second) == {("update", "contact", "CT-ZAAAA2", "last_name", "Martineau")}


def test_errors_are_kept_with_the_change_and_a_locked_year_is_an_error():
    record = snapshot()
    edit = combine(
        set_field("CT-AAAA1", "Courriel", "marie.dupont@"),
        set_field("APD", "APD 2009 (non modifiable)", "99 000 €"),
        set_field("PJ-EEEE1", "Statut", "abandonné"),
        set_field("CO-DDDD1", "Collectivité partenaire", "DAKAR PLATEAU"),
    )
    _parsed, result = changes_of(replies.gmail(summary_for(record), edit, SENDER), record)
    codes = {(c.ref, e["code"]) for c in result.changes for e in c.errors}
    assert ("CT-AAAA1", "bad_email") in codes
    assert ("APD-CCC1", "locked_year") in codes
    assert ("PJ-EEEE1", "unknown_choice") in codes
    assert ("CO-DDDD1", "capitals") in codes
    assert all(e["message"] for c in result.changes for e in c.errors)


def test_dashes_inside_the_form_are_content_not_a_signature():
    record = snapshot()
    edit = set_field("PJ-EEEE1", "Opérateurs", "-- Eau Vive, - Croix-Rouge")
    _parsed, result = changes_of(replies.gmail(summary_for(record), edit, SENDER), record)
    assert summarise(result) == {("update", "projet", "PJ-EEEE1", "operators", "-- Eau Vive, - Croix-Rouge")}


def test_labels_typed_the_french_way():
    record = snapshot()
    text = replies.original_text(summary_for(record))[1]
    for separator in ("\u00a0:", "\u202f:", ":", "\t:", "  :  "):
        edited = text.replace("Titre* : Adjointe aux relations internationales",
                              f"Titre*{separator} Maire adjointe")
        parsed = parse_text(edited)
        result = diff_form(parsed.forms[0], record, RULES, REFS)
        assert summarise(result) == {("update", "contact", "CT-AAAA1", "title", "Maire adjointe")}, separator


@pytest.mark.parametrize("prefix", [">> ", "> > ", ">>"])
def test_a_form_quoted_twice_is_read_at_any_prefix_spelling(prefix):
    record = snapshot()
    lines = replies.original_text(summary_for(record))[1].splitlines()
    parsed = parse_text("Voir plus bas.\n\n" + "\n".join(replies.quote(TYPICAL_EDIT(lines), prefix)))
    assert parsed.forms[0].quote_depth == 2
    assert summarise(diff_form(parsed.forms[0], record, RULES, REFS)) == EXPECTED, prefix


def test_the_edited_copy_at_depth_one_wins_over_the_original_at_depth_two():
    record = snapshot()
    lines = replies.original_text(summary_for(record))[1].splitlines()
    edited = "\n".join(replies.quote(TYPICAL_EDIT(lines)))
    original = "> Le 12 mars, Atlas a écrit :\n" + "\n".join(replies.quote(lines, ">> "))
    for text in (edited + "\n>\n" + original, original + "\n>\n" + edited):  # depth decides, not position
        parsed = parse_text(text)
        assert len(parsed.forms) == 1 and parsed.forms[0].quote_depth == 1
        assert summarise(diff_form(parsed.forms[0], record, RULES, REFS)) == EXPECTED


def retype(old: str, new: str):
    return lambda lines: [line.replace(old, new) for line in lines]


@pytest.mark.parametrize("client", ["gmail", "outlook_html_only"])
def test_typographic_quotes_as_word_autocorrects_them(client):
    record = snapshot()
    edit = combine(
        retype("C'est une coopération décentralisée (oui/non) : non",
               "C\u2019est une coopération décentralisée (oui/non) : oui"),
        set_field("PJ-EEEE1", "Opérateurs", "\u00ab\u00a0Lycée d\u2019Enseignement\u00a0\u00bb"),
        set_field("CT-AAAA1", "Titre", "\u201cMaire\u201d adjointe \u2018RI\u2019"),
        retype("Accès à l'eau", "Accès à l\u2019eau"),  # same title, autocorrected: not a change
    )
    _parsed, result = changes_of(replies.CLIENTS[client](summary_for(record), edit, SENDER), record)
    assert summarise(result) == {
        ("move", "action", "CO-FFFF1", "kind", "cooperation"),
        ("update", "projet", "PJ-EEEE1", "operators", '"Lycée d\'Enseignement"'),
        ("update", "contact", "CT-AAAA1", "title", '"Maire" adjointe \'RI\''),
    }


@pytest.mark.parametrize("cte", ["quoted-printable", "8bit"])
def test_latin1_reply_with_accented_values(cte):
    record = snapshot()
    edit = combine(set_field("CT-AAAA1", "Nom", "Lefèvre-Dupont"),
                   set_field("CT-AAAA1", "Titre", "Première adjointe déléguée à la coopération"),
                   set_field("PJ-EEEE1", "Bénéficiaires", "Élèves et familles des quartiers"))
    raw = replies.webmail_latin1(summary_for(record), edit, SENDER, charset="iso-8859-1", cte=cte)
    assert b'charset="iso-8859-1"' in raw
    _parsed, result = changes_of(raw, record)
    assert summarise(result) == {
        ("update", "contact", "CT-AAAA1", "last_name", "Lefèvre-Dupont"),
        ("update", "contact", "CT-AAAA1", "title", "Première adjointe déléguée à la coopération"),
        ("update", "projet", "PJ-EEEE1", "beneficiaries", "Élèves et familles des quartiers"),
    }


def test_windows_1252_characters_in_a_windows_1252_plain_part():
    record = snapshot()
    edit = combine(set_field("CT-AAAA1", "Titre", "Chargée de l\u2019œuvre sociale"),
                   set_field("APD", "Montant 2010 en euros", "12 500 €"),
                   set_field("PJ-EEEE1", "Opérateurs", "Cœur d\u2019Afrique"))
    raw = replies.webmail_latin1(summary_for(record), edit, SENDER, charset="windows-1252", cte="8bit")
    assert b"\x92\x9c" in raw and b"\x80" in raw  # the bytes only windows-1252 gives ’, œ and €
    _parsed, result = changes_of(raw, record)
    assert summarise(result) == {
        ("update", "contact", "CT-AAAA1", "title", "Chargée de l'œuvre sociale"),
        ("update", "apd", "APD-CCC2", "amount", "12500.00"),
        ("update", "projet", "PJ-EEEE1", "operators", "Cœur d'Afrique"),
    }


_JUNK = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    wrap=st.integers(min_value=20, max_value=100),
    depth=st.integers(min_value=0, max_value=4),
    junk=st.lists(st.tuples(st.integers(min_value=0, max_value=400), _JUNK), max_size=8),
    charset=st.sampled_from(["utf-8", "iso-8859-1", "windows-1252"]),
    cte=st.sampled_from(["8bit", "quoted-printable", "base64"]),
    nbsp=st.booleans(),
)
def test_mutated_replies_never_make_the_parser_raise(wrap, depth, junk, charset, cte, nbsp):
    import textwrap
    from email.message import EmailMessage

    record = snapshot()
    lines = replies.original_text(summary_for(record))[1].splitlines()
    for position, text in junk:
        lines.insert(min(position, len(lines)), text)
    wrapped = [piece for line in lines for piece in (textwrap.wrap(line, wrap) or [""])]
    body = "\n".join(("> " * depth) + line for line in wrapped)
    if nbsp:
        body = body.replace(" :", "\u00a0:")
    message = EmailMessage()
    message["Subject"] = "Re: fiche"
    try:
        message.set_content(body.encode(charset, errors="replace"), maintype="text", subtype="plain", cte=cte)
        message.replace_header("Content-Type", f'text/plain; charset="{charset}"')
        raw = message.as_bytes()
    except (ValueError, UnicodeError):
        raw = body.encode("utf-8", errors="replace")
    parsed = parse_reply(raw)
    for form in parsed.forms:
        diff_form(form, record, RULES, REFS)  # must not raise either


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data):
    parse_reply(data)
