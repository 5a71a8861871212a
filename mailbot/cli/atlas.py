"""Atlas commands: init, seed, import, export, stats, show."""
from __future__ import annotations

from pathlib import Path

import click

from mailbot.cli.app import emit_json, main, pass_app
from mailbot.cli.record import record_text
from mailbot.cli.tables import Column, echo_text, print_table
from mailbot.outbound.campaign import campaign_rules
from mailbot.outbound.summary import reference_lists
from mailbot.rules import load_rules
from mailbot.shipped import default_rules_path
from sqlalchemy import select
from store import exchange, queries
from store.campaign_models import Campaign
from store.db import upgrade
from store.seed import SeedError, seed_atlas


@main.command()
@pass_app
def init(app) -> None:
    """Crée ou met à niveau le schéma de la base."""
    upgrade(app.engine)
    click.echo(f"Base prête : {app.config.db}")


@main.command()
@click.option("--scale", type=click.FloatRange(0.01, 10.0), default=1.0, show_default=True,
              help="1 donne exactement les chiffres de la circulaire de 2012.")
@click.option("--seed", "rng_seed", type=int, default=2012, show_default=True, help="Graine du tirage aléatoire.")
@click.option("--json", "as_json", is_flag=True, help="Affiche les chiffres obtenus en JSON.")
@pass_app
def seed(app, scale: float, rng_seed: int, as_json: bool) -> None:
    """Construit un Atlas national réaliste et reproductible à partir des collectivités réelles."""

    upgrade(app.engine)
    try:
        seed_atlas(app.engine, scale=scale, seed=rng_seed)
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    with app.read_sessions() as session:
        figures = queries.atlas_stats(session)
    if as_json:
        emit_json(figures)
    else:
        _print_stats(figures)


@main.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_app
def export_cmd(app, directory: Path) -> None:
    """Écrit toute la base en fichiers JSON Lines, un par table (voir docs/export-format.md)."""
    counts = exchange.export_atlas(app.require_store(), directory)
    click.echo(f"{sum(counts.values())} lignes exportées dans {len(counts)} fichiers, dans {directory}")


@main.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_app
def import_cmd(app, directory: Path) -> None:
    """Charge un export dans une base vide ; une seule ligne fautive refuse tout l'import."""
    upgrade(app.engine)
    try:
        counts = exchange.import_atlas(app.engine, directory)
    except exchange.ImportRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{sum(counts.values())} lignes importées de {len(counts)} fichiers")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_app
def stats(app, as_json: bool) -> None:
    """Les chiffres clés de l'Atlas, comptés comme dans la circulaire."""
    app.require_store()
    with app.read_sessions() as session:
        figures = queries.atlas_stats(session)
    if as_json:
        emit_json(figures)
    else:
        _print_stats(figures)


@main.command()
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def show(app, code: str, as_json: bool) -> None:
    """La fiche complète d'une collectivité, chaque élément avec sa référence."""
    app.require_store()
    with app.read_sessions() as session:
        record = queries.collectivite_record(session, code)
        if record is None:
            raise click.ClickException(f"code de collectivité inconnu « {code} » (par exemple COM-35238, DEP-35, REG-53)")
        if as_json:
            emit_json(record)
            return
        # the labels people read: those of the newest campaign's rules, else of the shipped file
        newest = session.scalar(select(Campaign).order_by(Campaign.id.desc()).limit(1))
        references = reference_lists(session)
    if newest is not None:
        rules = campaign_rules(newest)
    else:
        with default_rules_path() as path:
            rules = load_rules(path)
    echo_text(record_text(record, rules, references))


STAT_LABELS = {
    "collectivites": "Collectivités engagées",
    "partenaires": "Collectivités partenaires",
    "pays": "Pays",
    "cooperations": "Coopérations décentralisées",
    "projets_cooperation": "Projets de coopération décentralisée",
    "actions": "Autres actions extérieures",
    "projets_actions": "Projets d'autres actions extérieures",
    "contacts": "Élus et cadres",
    "adhesions": "Adhésions à des réseaux",
    "montants_apd": "Montants d'APD déclarés",
}


def _print_stats(figures: dict) -> None:
    print_table([Column("L'Atlas"), Column("Nombre", numeric=True)],
                [(label, figures[key]) for key, label in STAT_LABELS.items() if key in figures])
