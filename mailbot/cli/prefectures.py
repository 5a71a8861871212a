"""Préfecture commands: the directory (import, list), the circular, the territory reports."""
from __future__ import annotations

from pathlib import Path

import click

from mailbot.outbound.campaign import STATUS_COLUMNS, CampaignError, get_campaign
from mailbot.cli import emit_json, main, pass_app
from mailbot.prefectures.circular import send_circulars
from mailbot.prefectures.directory import PrefectureError, import_directory, list_directory, parse_directory
from mailbot.prefectures.report import send_reports, territory_reports


@main.group()
def prefectures() -> None:
    """Préfectures: their directory and the progress report of their territory."""


@prefectures.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def import_cmd(app, file: Path) -> None:
    """Create or update préfectures from FILE (CSV: code, name, address[, email]); all or nothing."""
    app.require_store()
    try:
        lines = parse_directory(file.read_text(encoding="utf-8"))
        with app.sessions.begin() as session:
            report = import_directory(session, lines)
    except (PrefectureError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    click.echo(f"{report.created} préfectures created, {report.updated} updated")


@prefectures.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app, as_json: bool) -> None:
    """Every préfecture: département, région, address and how many of its collectivités are in the Atlas."""
    app.require_store()
    with app.sessions() as session:
        rows = list_directory(session)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        seat = " (région)" if row["is_region_seat"] else ""
        click.echo(f"{row['departement']:<4}{row['region']:<4}{row['name'] + seat:<60}{row['email']:<44}"
                   f"{row['in_atlas']:>5}")


@prefectures.command("report")
@click.argument("campaign_name", metavar="CAMPAIGN")
@click.option("--send", is_flag=True, help="Mail each préfecture its report with the CSV attached.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def report_cmd(app, campaign_name: str, send: bool, as_json: bool) -> None:
    """Each territory's progress (the figures of `campaign status`) and its unreachable collectivités."""
    engine = app.require_store()
    try:
        if send:
            queued, sent = send_reports(engine, app.sessions, app.config, campaign_name)
            click.echo(f"{queued} reports queued, {sent} sent")
            return
        with app.sessions() as session:
            reports = territory_reports(session, get_campaign(session, campaign_name))
            data = [report.as_json() for report in reports]
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(data)
        return
    for item in data:
        click.echo(f"{item['departement']}  {item['prefecture']} <{item['email']}>")
        click.echo("    " + ", ".join(f"{column} {item['figures'][column]}" for column in STATUS_COLUMNS))
        for unreachable in item["unreachable"]:
            click.echo(f"    injoignable : {unreachable['name']} ({unreachable['code']}) — {unreachable['incident'] or ''}")


@main.group()
def circular() -> None:
    """The campaign's circular to the préfectures."""


@circular.command("send")
@click.argument("campaign_name", metavar="CAMPAIGN")
@pass_app
def circular_send_cmd(app, campaign_name: str) -> None:
    """Send each préfecture the circular with its territory's list; a second run sends nothing again."""
    engine = app.require_store()
    try:
        report = send_circulars(engine, app.sessions, app.config, campaign_name)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.sent} circulars queued ({report.already} already sent for this campaign); "
               f"{report.delivered} delivered, {report.deferred} deferred, {report.failed} failed")
