"""`mailbot web` (the reviewers' console) and `mailbot reviewers` (their accounts, kept in the store)."""
from __future__ import annotations

import click

from mailbot.cli import emit_json, main, pass_app
from mailbot.config import SETTINGS_BY_NAME, ConfigError, parse_host_port
from mailbot.web import accounts
from mailbot.web.server import run_foreground


@main.command("web")
@click.option("--listen", help="host:port (default: the web_listen setting, else 127.0.0.1:8080).")
@click.option("--dev", is_flag=True, help="Accept the development secret (never in production).")
@pass_app
def web_cmd(app, listen: str | None, dev: bool) -> None:
    """Serve the reviewers' web console."""
    if app.config.secret == SETTINGS_BY_NAME["secret"].default and not dev:
        # the secret signs the session cookies: with the published key anyone could forge a reviewer's
        raise click.ClickException("le secret de développement est en place : définissez MAILBOT_SECRET (ou "
                                   "`secret` dans mailbot.toml), ou ajoutez --dev pour un essai local")
    app.require_store()
    try:
        host, port = parse_host_port(listen) if listen else app.config.web_address
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not accounts.list_reviewers(app.sessions):
        click.echo("Aucun relecteur : ajoutez-en un avec `mailbot reviewers add NOM --email ADRESSE`.")
    click.echo(f"Console de relecture : http://{host}:{port}/ (Ctrl-C pour arrêter)")
    run_foreground(app.config, host=host, port=port)


@main.group()
def reviewers() -> None:
    """Reviewers' accounts for the web console (sign-in by a one-time link mailed to them)."""


@reviewers.command("add")
@click.argument("name")
@click.option("--email", required=True, help="The reviewer's address: sign-in links are mailed there.")
@pass_app
def add_cmd(app, name: str, email: str) -> None:
    """Add a reviewer."""
    app.require_store()
    try:
        reviewer = accounts.add_reviewer(app.sessions, name, email)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Relecteur ajouté : {reviewer.name} <{reviewer.email}>")


@reviewers.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app, as_json: bool) -> None:
    """The reviewers, active or disabled."""
    app.require_store()
    rows = accounts.list_reviewers(app.sessions)
    if as_json:
        emit_json([{"name": r.name, "email": r.email, "active": r.active} for r in rows])
        return
    if not rows:
        click.echo("Aucun relecteur.")
    for r in rows:
        click.echo(f"{r.name:<32} {r.email:<40} {'actif' if r.active else 'désactivé'}")


@reviewers.command("disable")
@click.argument("name")
@pass_app
def disable_cmd(app, name: str) -> None:
    """Disable a reviewer: their open console sessions stop working at once."""
    app.require_store()
    try:
        reviewer = accounts.disable_reviewer(app.sessions, name)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Relecteur désactivé : {reviewer.name}")


@reviewers.command("link")
@click.argument("name")
@pass_app
def link_cmd(app, name: str) -> None:
    """Print a one-time sign-in link for NAME (valid 15 minutes), instead of mailing it."""
    app.require_store()
    try:
        click.echo(accounts.printed_link(app.sessions, app.config, name))
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
