"""Issue #17: what a person reads on the command line is French — help texts, export/import and
rules-file errors, `mailbot show` (labels, not codes)."""
from __future__ import annotations

import re

import click
from click.testing import CliRunner

from mailbot.cli import main

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
