"""The `mailbot` command: a click group; one small module per command family.

Commands parse arguments and delegate to the store or the pipeline; any expected failure becomes a
one-line `ClickException`, never a traceback.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import click

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


class MailbotGroup(click.Group):
    """Turns store and configuration errors raised anywhere below into one-line messages; any error
    message is made printable (it may quote what an agent or a file wrote: mailbot.cli.terminal)."""

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
              help="Settings file (default: ./mailbot.toml if present).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Atlas mailbot: keeps the Atlas français de la coopération décentralisée up to date by email."""
    try:
        ctx.obj = AppContext(config=load_config(config_path))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


from mailbot.cli import atlas  # noqa: E402,F401  (registers the commands)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
from mailbot.cli import campaign, demo, review  # noqa: E402,F401
from mailbot.cli import inbox  # noqa: E402,F401
from mailbot.cli import prefectures  # noqa: E402,F401
from mailbot.cli import dkim  # noqa: E402,F401
from mailbot.cli import web  # noqa: E402,F401
