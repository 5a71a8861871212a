"""click's own words (« Usage: », « Error: », « No such option… ») in French, from a catalog.

click marks its messages for gettext but looks them up with `gettext.gettext`, whose language comes
from the environment: on a server (LANG=C) every help page and usage error would be English. The
catalog `locale/click.fr.po` (data, compiled in memory with babel for the standard gettext) replaces
the lookup in click's modules, so the command speaks French whatever the locale. A message missing
from the catalog stays as click wrote it.
"""
from __future__ import annotations

import io
from functools import lru_cache
from gettext import GNUTranslations
from importlib.resources import files

import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.termui
import click.types
import click.utils
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

CATALOG = "locale/click.fr.po"  # package data (pyproject.toml)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    with files("mailbot.cli").joinpath(CATALOG).open("rb") as handle:
        return read_po(handle, locale="fr")


@lru_cache(maxsize=1)
def translations() -> GNUTranslations:
    """The catalog compiled in memory for the standard gettext (its plural rule included)."""
    compiled = io.BytesIO()
    write_mo(compiled, catalog())
    compiled.seek(0)
    return GNUTranslations(compiled)


def speak_french() -> None:
    """Point click's message lookups at the French catalog. Called before any command is declared:
    click translates some words (the kind of a path) when a parameter type is built."""
    french = translations()
    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.termui,
                   click.types, click.utils):
        if callable(getattr(module, "_", None)):
            module._ = french.gettext
        if callable(getattr(module, "ngettext", None)):
            module.ngettext = french.ngettext
