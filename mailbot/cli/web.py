"""`mailbot web` (the reviewers' console) and `mailbot reviewers` (their accounts, kept in the store)."""
from __future__ import annotations

import click

from mailbot.cli.app import emit_json, main, pass_app
from mailbot.config import SETTINGS_BY_NAME, ConfigError, parse_host_port
from mailbot.web import accounts
from mailbot.web.server import run_foreground


@main.command("web")
@click.option("--listen", help="hôte:port (par défaut : le réglage web_listen, sinon 127.0.0.1:8080).")
@click.option("--dev", is_flag=True, help="Accepte le secret de développement (jamais en production).")
@pass_app
def web_cmd(app, listen: str | None, dev: bool) -> None:
    """Sert la console web des relecteurs."""
    if app.config.secret == SETTINGS_BY_NAME["secret"].default and not dev:
        # the secret signs the session cookies: with the published key anyone could forge a reviewer's
        raise click.ClickException("le secret de développement est en place : définissez MAILBOT_SECRET (ou "
                                   "`secret` dans mailbot.toml), ou ajoutez --dev pour un essai local")
    app.require_store()
    try:
        host, port = parse_host_port(listen) if listen else app.config.web_address
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not accounts.list_reviewers(app.read_sessions):
        click.echo("Aucun relecteur : ajoutez-en un avec `mailbot reviewers add NOM --email ADRESSE`.")
    click.echo(f"Console de relecture : http://{host}:{port}/ (Ctrl-C pour arrêter)")
    run_foreground(app.config, host=host, port=port)


@main.group()
def reviewers() -> None:
    """Les comptes des relecteurs de la console web (connexion par un lien à usage unique envoyé par courriel)."""


@reviewers.command("add")
@click.argument("name")
@click.option("--email", required=True, help="L'adresse du relecteur : les liens de connexion y sont envoyés.")
@pass_app
def add_cmd(app, name: str, email: str) -> None:
    """Ajoute un relecteur."""
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
    """Les relecteurs, actifs ou désactivés."""
    app.require_store()
    rows = accounts.list_reviewers(app.read_sessions)
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
    """Désactive un relecteur : ses sessions ouvertes dans la console cessent aussitôt de fonctionner."""
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
    """Affiche un lien de connexion à usage unique pour NAME (valable 15 minutes), au lieu de l'envoyer."""
    app.require_store()
    try:
        click.echo(accounts.printed_link(app.sessions, app.config, name))
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
