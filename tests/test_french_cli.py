"""Issue #17: what a person reads on the command line is French — help texts, export/import and
rules-file errors, `mailbot show` (labels, not codes)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mailbot.cli.commands import main

# words that never occur in a French sentence: any of them in a help text means English was left
_ENGLISH = re.compile(r"\b(the|and|of|to|with|from|this|when|only|every|each|print|its|their|for|by|is|as)\b",
                      re.IGNORECASE)


def _commands(group, path=()):
    yield path, group
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from _commands(command, path + (name,))


def test_every_help_text_and_option_help_is_french():
    english = []
    for path, command in _commands(main):
        texts = [("", command.help or "")] + [(p.name, getattr(p, "help", None) or "") for p in command.params]
        for name, text in texts:
            if _ENGLISH.search(re.sub(r"--[\w-]+", "", text)):  # option names stay as they are
                english.append(f"{' '.join(path) or 'mailbot'} {name}: {text}")
            if path and not name and not text:
                english.append(f"{' '.join(path)}: no help")
    assert english == []


def test_help_output_is_french():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "tient à jour l'Atlas" in result.output
    assert "Fichier de réglages" in result.output
    result = CliRunner().invoke(main, ["review", "approve", "--help"])
    assert "Nom du relecteur" in result.output


# click's own words: English wherever click is not given our catalog, whatever LANG says
_CLICK_ENGLISH = ("Usage:", "Show this message", "Error:", "No such", "Try '", "Commands:", "Missing argument",
                  "Got unexpected", "is not a valid", "COMMAND [ARGS]")


@pytest.mark.parametrize("args", [["--help"], ["review", "--help"], ["review", "approve", "--help"], ["--bogus"],
                                  ["nosuch"], ["review", "list", "--limit", "abc"], ["review", "approve", "1", "2"],
                                  ["inbox", "show"]])
def test_clicks_own_words_are_french_whatever_the_locale(args):
    result = CliRunner().invoke(main, args, prog_name="mailbot", env={"LANG": "C", "LANGUAGE": "", "LC_ALL": "C"})
    assert [word for word in _CLICK_ENGLISH if word in result.output] == [], result.output
    if args[-1] == "--help":
        assert result.exit_code == 0 and "Utilisation : mailbot" in result.output and "Affiche cette aide" in result.output
    else:
        assert result.exit_code == 2 and "Erreur : " in result.output and "Pour l'aide : « mailbot" in result.output


def test_every_help_page_has_french_usage_and_placeholders():
    english = []
    for path, _ in _commands(main):
        output = CliRunner().invoke(main, [*path, "--help"], prog_name="mailbot", env={"LANG": "C"}).output
        english += [(path, word) for word in re.findall(r"\b(?:Usage|INTEGER|TEXT|FLOAT|BOOLEAN|COMMAND|ARGS)\b", output)]
    assert english == []


def test_the_catalog_translates_every_message_click_marks():
    """A click upgrade that adds messages shows here, not in front of a reviewer."""
    from babel.messages.extract import extract_from_dir

    from mailbot.cli.language import catalog

    french = catalog()
    marked = {message for _, _, message, _, _ in extract_from_dir(
        Path(click.__file__).parent, method_map=[("**.py", "python")], keywords={"_": None, "ngettext": (1, 2)})}
    missing = [m for m in marked if not (french.get(m) and all(
        french.get(m).string if isinstance(m, tuple) else [french.get(m).string]))]
    assert missing == []


# --- mailbot show: labels, not codes ------------------------------------------------------------------

def _run(args, db_url):
    return CliRunner().invoke(main, args, env={"MAILBOT_DB": db_url, "MAILBOT_CONFIG": None}, catch_exceptions=False)


def _record_with_a_themed_project(db_url) -> dict:
    from sqlalchemy import select

    from store.db import make_engine, session_factory
    from store.models import Collectivite, Cooperation, Project, ProjectTheme

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        code = session.scalar(select(Collectivite.code).join(Cooperation).join(Project, Project.cooperation_id == Cooperation.id)
                              .join(ProjectTheme, ProjectTheme.project_id == Project.id).limit(1))
    engine.dispose()
    return json.loads(_run(["show", code, "--json"], db_url).output)


def test_show_prints_the_rules_labels_not_the_codes(db_url, tmp_path):
    from mailbot.rules import load_rules
    from mailbot.shipped import default_rules_path
    from mailbot.outbound.form import field_choices
    from mailbot.outbound.summary import reference_lists
    from store.db import make_engine, session_factory

    assert _run(["seed", "--scale", "0.02", "--seed", "3"], db_url).exit_code == 0
    record = _record_with_a_themed_project(db_url)
    with default_rules_path() as path:
        rules = load_rules(path)
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        references = reference_lists(session)
    engine.dispose()
    roles = field_choices(rules.parts["contact"].field("role"), references)
    statuses = field_choices(rules.parts["projet"].field("status"), references)
    themes = field_choices(rules.parts["projet"].field("themes"), references)

    text = _run(["show", record["code"]], db_url).output
    projects = [p for c in record["cooperations"] + record["actions"] for p in c["projects"]]
    for contact in record["contacts"]:
        assert f"Fonction : {roles[contact['role']]}" in text
    for project in projects:
        assert f"Statut : {statuses[project['status']]}" in text
        for theme in project["themes"]:
            assert themes[theme] in text
    codes = {c["role"] for c in record["contacts"]} | {p["status"] for p in projects}
    codes |= {t for p in projects for t in p["themes"]}
    assert not [code for code in codes if re.search(rf"(: |; ){re.escape(code)}\b", text)]
    assert not re.search(r"\b(True|False|None)\b", text)
    assert re.search(r"Jumelage : (oui|non)", text)

    # the newest campaign's rules give the labels
    with default_rules_path() as path:
        own = path.read_text(encoding="utf-8").replace('label = "Élu"', 'label = "Élue ou élu"', 1)
    assert "Élue ou élu" in own
    (tmp_path / "own.toml").write_text(own, encoding="utf-8")
    created = _run(["campaign", "create", "essai", "--rules", str(tmp_path / "own.toml"), "--deadline", "2012-06-30",
                    "--allow-past"], db_url)
    assert created.exit_code == 0, created.output
    assert "elu" in {c["role"] for c in record["contacts"]}
    assert "Fonction : Élue ou élu" in _run(["show", record["code"]], db_url).output
