"""The root of the `mailbot` command: its click group, the context every command receives, JSON output.

The command families (one module each) import this module and register on `main`;
`mailbot.cli.commands` imports them all. This module imports none of them, so there is no cycle.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import click

from mailbot.cli.language import speak_french
from mailbot.cli.terminal import json_safe, printable
from mailbot.config import Config, ConfigError, load_config
from store.db import StoreError, is_initialised, make_engine, read_sessions, session_factory, sqlite_file_missing


@dataclass
class AppContext:
    config: Config
    _engines: dict = field(default_factory=dict)

    @cached_property
    def engine(self):
        try:
            return make_engine(self.config.db)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None

    @property
    def sessions(self):
        return session_factory(self.engine)

    @property
    def read_sessions(self):
        """For commands that only read: they never wait for (nor block) a writer (store.db)."""
        return read_sessions(self.engine)

    def require_store(self):
        """The engine of an initialised store, or a clear error telling how to create it."""
        try:
            ready = is_initialised(self.engine)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from None
        if not ready:
            missing = sqlite_file_missing(self.engine)
            if missing:
                raise click.ClickException(f"pas de base de données à {missing} (MAILBOT_DB = {self.config.db}) : "
                                           "vérifiez l'adresse, ou créez-la avec `mailbot init`")
            raise click.ClickException(f"la base {self.config.db} n'est pas initialisée : lancez `mailbot init`")
        return self.engine


pass_app = click.make_pass_decorator(AppContext)


def emit_json(data: Any) -> None:
    # what agents wrote is in there: escaped so that it reaches a terminal inert (mailbot.cli.terminal)
    click.echo(json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=str)))


speak_french()  # before any command declares its parameters (mailbot.cli.language)

# what an option's value is, in its help line (« --limit ENTIER »), by click type name
TYPE_PLACEHOLDERS = {"integer": "ENTIER", "integer range": "ENTIER", "float": "NOMBRE", "float range": "NOMBRE",
                     "text": "TEXTE", "boolean": "OUI|NON", "uuid": "UUID"}


class FrenchGroup(click.Group):
    """A group whose usage line and value placeholders are French: click writes « COMMAND [ARGS]... »
    and « INTEGER », « TEXT » (its types' names) without gettext."""

    group_class = type  # its subgroups are of its own class

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("subcommand_metavar", "COMMANDE [ARGUMENTS]...")
        super().__init__(*args, **kwargs)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        for param in cmd.params:
            placeholder = TYPE_PLACEHOLDERS.get(param.type.name)
            if isinstance(param, click.Option) and param.metavar is None and placeholder:
                param.metavar = placeholder
        super().add_command(cmd, name)


class MailbotGroup(FrenchGroup):
    """Turns store and configuration errors raised anywhere below into one-line messages; any error
    message is made printable (it may quote what an agent or a file wrote: mailbot.cli.terminal)."""

    group_class = FrenchGroup

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (StoreError, ConfigError) as exc:
            raise click.ClickException(printable(str(exc), keep_lines=True)) from None
        except click.ClickException as exc:
            exc.message = printable(exc.message, keep_lines=True)
            raise


@click.group(cls=MailbotGroup)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="MAILBOT_CONFIG",
              help="Fichier de réglages (par défaut : ./mailbot.toml s'il existe).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Atlas mailbot : tient à jour l'Atlas français de la coopération décentralisée par courriel."""
    try:
        ctx.obj = AppContext(config=load_config(config_path))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
