"""click's own words (« Usage: », « Error: », « No such option… ») in French, from a catalog.

click marks its messages for gettext but looks them up with `gettext.gettext`, whose language comes
from the environment: on a server (LANG=C) every help page and usage error would be English. The
catalog `locale/click.fr.po` (data, read with babel) replaces the lookup in click's modules, so the
command speaks French whatever the locale. A message missing from the catalog stays as click wrote it.
"""
from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.termui
import click.types
import click.utils
from babel.messages.pofile import read_po

CATALOG = "locale/click.fr.po"  # package data (pyproject.toml)


@lru_cache(maxsize=1)
def catalog() -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """(singular messages, plural ones by their singular msgid) of the French catalog."""
    with files("mailbot.cli").joinpath(CATALOG).open("rb") as handle:
        read = read_po(handle, locale="fr")
    singular, plural = {}, {}
    for message in read:
        if not message.id or not message.string:
            continue
        if isinstance(message.id, tuple):
            if all(message.string):
                plural[message.id[0]] = (message.string[0], message.string[1])
        else:
            singular[message.id] = message.string
    return singular, plural


def gettext(message: str) -> str:
    return catalog()[0].get(message, message)


def ngettext(singular: str, plural: str, count: int) -> str:
    forms = catalog()[1].get(singular)
    if forms is None:
        return singular if count == 1 else plural
    return forms[0] if count <= 1 else forms[1]  # French: 0 and 1 are singular


def speak_french() -> None:
    """Point click's message lookups at the French catalog. Called before any command is declared:
    click translates some words (the kind of a path) when a parameter type is built."""
    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.termui,
                   click.types, click.utils):
        if callable(getattr(module, "_", None)):
            module._ = gettext
        if callable(getattr(module, "ngettext", None)):
            module.ngettext = ngettext
