"""Atlas commands: init, seed, import, export, stats, show."""
from __future__ import annotations

from pathlib import Path

import click

from mailbot.cli import emit_json, main, pass_app
from mailbot.cli.tables import Column, echo_text, print_table
from store import exchange, queries
from store.db import upgrade
from store.seed import SeedError, seed_atlas


@main.command()
@pass_app
def init(app) -> None:
    """Create or upgrade the store's schema."""
    upgrade(app.engine)
    click.echo(f"Base prête : {app.config.db}")


@main.command()
@click.option("--scale", type=click.FloatRange(0.01, 10.0), default=1.0, show_default=True,
              help="1 gives exactly the figures of the 2012 circular.")
@click.option("--seed", "rng_seed", type=int, default=2012, show_default=True, help="Random seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the resulting figures as JSON.")
@pass_app
def seed(app, scale: float, rng_seed: int, as_json: bool) -> None:
    """Build a deterministic, realistic national Atlas from the real collectivités."""

    upgrade(app.engine)
    try:
        seed_atlas(app.engine, scale=scale, seed=rng_seed)
    except SeedError as exc:
        raise click.ClickException(str(exc)) from None
    with app.sessions() as session:
        figures = queries.atlas_stats(session)
    if as_json:
        emit_json(figures)
    else:
        _print_stats(figures)


@main.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_app
def export_cmd(app, directory: Path) -> None:
    """Write the whole store as JSON Lines files, one per table (see docs/export-format.md)."""
    counts = exchange.export_atlas(app.require_store(), directory)
    click.echo(f"{sum(counts.values())} lignes exportées dans {len(counts)} fichiers, dans {directory}")


@main.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_app
def import_cmd(app, directory: Path) -> None:
    """Load an export into an empty store; any bad line refuses the whole import."""
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
    """The Atlas's headline figures, as the circular counts them."""
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
    """One collectivité's whole record, every record with its reference."""
    app.require_store()
    with app.read_sessions() as session:
        record = queries.collectivite_record(session, code)
    if record is None:
        raise click.ClickException(f"code de collectivité inconnu « {code} » (par exemple COM-35238, DEP-35, REG-53)")
    if as_json:
        emit_json(record)
    else:
        echo_text(queries.format_record(record))


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
