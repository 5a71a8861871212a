"""Préfecture commands: the directory (import, list), the circular, the territory reports."""
from __future__ import annotations

from pathlib import Path

import click

from mailbot.outbound.campaign import STATUS_COLUMNS, STATUS_LABELS, CampaignError, get_campaign
from mailbot.cli.app import emit_json, main, pass_app
from mailbot.cli.tables import Column, print_table
from mailbot.prefectures.circular import send_circulars
from mailbot.prefectures.directory import (PrefectureError, decode_directory, import_directory, list_directory,
                                           parse_directory)
from mailbot.prefectures.report import send_reports, territory_reports


@main.group()
def prefectures() -> None:
    """Préfectures : leur annuaire et l'avancement de leur territoire."""


@prefectures.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def import_cmd(app, file: Path) -> None:
    """Crée ou met à jour les préfectures depuis FILE (CSV : code, nom, adresse[, courriel]) ; tout ou rien."""
    app.require_store()
    try:
        lines = parse_directory(decode_directory(file.read_bytes()))
        with app.sessions.begin() as session:
            report = import_directory(session, lines)
    except PrefectureError as exc:
        raise click.ClickException(f"{file} : {exc}") from None
    click.echo(f"{report.created} préfectures créées, {report.updated} mises à jour")


@prefectures.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app, as_json: bool) -> None:
    """Toutes les préfectures : département, région, adresse et nombre de leurs collectivités dans l'Atlas."""
    app.require_store()
    with app.read_sessions() as session:
        rows = list_directory(session)
    if as_json:
        emit_json(rows)
        return
    print_table([Column("Département"), Column("Région"), Column("Préfecture"), Column("Courriel"),
                 Column("Collectivités dans l'Atlas", numeric=True)],
                [(row["departement"], row["region"], row["name"] + (" (préfecture de région)" if row["is_region_seat"]
                                                                   else ""), row["email"], row["in_atlas"])
                 for row in rows],
                totals=["Total", "", f"{len(rows)} préfectures", "", sum(row["in_atlas"] for row in rows)])


@prefectures.command("report")
@click.argument("campaign_name", metavar="CAMPAIGN")
@click.option("--send", is_flag=True, help="Envoie à chaque préfecture son rapport, avec le CSV en pièce jointe.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def report_cmd(app, campaign_name: str, send: bool, as_json: bool) -> None:
    """L'avancement de chaque territoire (les chiffres de `campaign status`) et ses collectivités injoignables."""
    engine = app.require_store()
    try:
        if send:
            queued, sent = send_reports(engine, app.sessions, app.config, campaign_name)
            click.echo(f"{queued} rapports préparés, {sent} envoyés")
            return
        with app.read_sessions() as session:
            reports = territory_reports(session, get_campaign(session, campaign_name))
            data = [report.as_json() for report in reports]
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(data)
        return
    print_table([Column("Département"), Column("Préfecture")] + [Column(STATUS_LABELS[c], numeric=True)
                                                                 for c in STATUS_COLUMNS],
                [[item["departement"], item["prefecture"]] + [item["figures"][c] for c in STATUS_COLUMNS]
                 for item in data],
                totals=["Total", ""] + [sum(item["figures"][c] for item in data) for c in STATUS_COLUMNS])
    unreachable = [(item["departement"], u["code"], u["name"], u["incident"]) for item in data
                   for u in item["unreachable"]]
    if unreachable:
        print_table([Column("Département"), Column("Code"), Column("Collectivité injoignable"), Column("Incident")],
                    unreachable)


@main.group()
def circular() -> None:
    """La circulaire de la campagne aux préfectures."""


@circular.command("send")
@click.argument("campaign_name", metavar="CAMPAIGN")
@pass_app
def circular_send_cmd(app, campaign_name: str) -> None:
    """Envoie à chaque préfecture la circulaire avec la liste de son territoire ; un second passage ne renvoie rien."""
    engine = app.require_store()
    try:
        report = send_circulars(engine, app.sessions, app.config, campaign_name)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.sent} circulaires préparées ({report.already} déjà envoyées pour cette campagne) ; "
               f"{report.delivered} acceptées par le relais, {report.deferred} différées, {report.failed} en échec")
