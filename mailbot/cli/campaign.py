"""Campaign commands: create, list, send, remind, status."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click
from dateutil import parser as dateparser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import select

from mailbot.outbound.campaign import (
    STATUS_COLUMNS,
    CampaignError,
    campaign_status,
    create_campaign,
    remind_campaign,
    send_campaign,
)
from mailbot.cli import emit_json, main, pass_app
from mailbot.outbound.delivery import deliver_pending
from mailbot.rules import RulesFileError
from store.campaign_models import Campaign, CampaignTarget, OutboundMessage
from mailbot.outbound.campaign import RenderReport, _render_batch, campaign_rules, get_campaign, pending_targets
from mailbot.outbound.summary import reference_lists

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "rules" / "campagne-2012.toml"


@main.group()
def campaign() -> None:
    """Campaigns: send each collectivité its summary and reply form."""


@campaign.command("create")
@click.argument("name")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rules file (default: rules/campagne-2012.toml).")
@click.option("--deadline", required=True, help="Reply deadline, e.g. 2012-06-30.")
@pass_app
def create_cmd(app, name: str, rules_path: Path | None, deadline: str) -> None:
    """Create campaign NAME over every collectivité of the Atlas."""
    rules_path = rules_path or Path(app.config.rules or DEFAULT_RULES)
    if not rules_path.exists():
        raise click.ClickException(f"rules file not found: {rules_path}")
    try:
        deadline_date = dateparser.parse(deadline, dayfirst=True).date()
    except (ValueError, OverflowError):
        raise click.ClickException(f"bad deadline {deadline!r}: expected a date such as 2012-06-30") from None
    app.require_store()
    try:
        with app.sessions.begin() as session:
            created = create_campaign(session, name, rules_path, deadline_date)
            targets = session.query(CampaignTarget).filter_by(campaign_id=created.id).count()
    except (CampaignError, RulesFileError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Campaign {name} created: {targets} collectivités, deadline {deadline_date.isoformat()}")


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app, as_json: bool) -> None:
    """List campaigns."""
    app.require_store()
    with app.sessions() as session:
        rows = [
            {"name": c.name, "year": c.year, "deadline": c.deadline.isoformat(), "rules": c.rules_path}
            for c in session.scalars(select(Campaign).order_by(Campaign.id))
        ]
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            click.echo(f"{row['name']}\t{row['year']}\tdeadline {row['deadline']}")


@campaign.command("send")
@click.argument("name")
@click.option("--only", "only", multiple=True, help="Only this collectivité code (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N collectivités this run.")
@click.option("--dry-run", "dry_run", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the .eml files to DIR instead of sending (nothing is stored).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@pass_app
def send_cmd(app, name: str, only: tuple[str, ...], limit: int | None, dry_run: Path | None, quiet: bool) -> None:
    """Render and send the summaries not yet sent; safe to interrupt and run again."""
    engine = app.require_store()
    if dry_run is not None:
        _dry_run(app, name, list(only) or None, limit, dry_run)
        return
    try:
        with app.sessions() as session:
            total = len(_pending(session, name, list(only) or None, limit))
        with _progress_pair(total, quiet) as (rendered_advance, sent_advance):
            report = send_campaign(engine, app.sessions, app.config, name, only=list(only) or None, limit=limit,
                                   on_rendered=rendered_advance, on_sent=sent_advance)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.render.rendered} summaries rendered, {report.render.unreachable} collectivités unreachable; "
               f"{report.sent} sent, {report.deferred} deferred (retried later), {report.failed} failed")
    for error in report.errors[:10]:
        click.echo(f"  {error}", err=True)
    if report.relay_error:
        raise click.ClickException(f"sending stopped, the relay refused us: {report.relay_error}")


@contextmanager
def _progress_pair(total: int, quiet: bool):
    """Two bars: summaries rendered, envelopes sent (rendering and sending run together)."""
    if quiet or total == 0:
        yield (lambda n: None), (lambda n: None)
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True))
    with progress:
        rendered = progress.add_task("Rendu", total=total)
        sent = progress.add_task("Envoi", total=None)
        yield (lambda n: progress.advance(rendered, n)), (lambda n: progress.advance(sent, n))


def _pending(session, name, only, limit):

    return pending_targets(session, get_campaign(session, name), only, limit)


def _dry_run(app, name: str, only, limit, directory: Path) -> None:
    """Render inside a transaction that is rolled back: the files show exactly what would be sent."""

    directory.mkdir(parents=True, exist_ok=True)
    session = app.sessions()
    try:
        campaign_row = get_campaign(session, name)
        targets = pending_targets(session, campaign_row, only, limit)
        report = RenderReport()
        _render_batch(session, app.config, campaign_row, campaign_rules(campaign_row), reference_lists(session),
                      targets, report)
        for outbound_id in report.outbound_ids:
            outbound = session.get(OutboundMessage, outbound_id)
            code = outbound.subject.rsplit("(", 1)[-1].rstrip(")")
            (directory / f"{_safe(code)}.eml").write_bytes(outbound.raw)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        session.rollback()
        session.close()
    click.echo(f"{len(report.outbound_ids)} messages written to {directory} "
               f"({report.unreachable} collectivités without a usable address); nothing was sent")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


_DURATION = re.compile(r"^\s*(\d+)\s*([dhj]?)\s*$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        # a one-line error like the others (a BadParameter raised here prints the usage too)
        raise click.ClickException(f"bad duration {text!r} for --after: expected a number of days such as 14d "
                                   "(or of hours, such as 36h)")
    number, unit = int(match.group(1)), match.group(2) or "d"
    return timedelta(hours=number) if unit == "h" else timedelta(days=number)


@campaign.command("remind")
@click.argument("name")
@click.option("--after", default="14d", show_default=True, help="Remind those silent for this long (e.g. 14d).")
@click.option("--quiet", is_flag=True)
@pass_app
def remind_cmd(app, name: str, after: str, quiet: bool) -> None:
    """Remind collectivités that have neither replied nor confirmed, saying what is still missing."""
    engine = app.require_store()
    try:
        report = remind_campaign(engine, app.sessions, app.config, name, after=parse_duration(after))
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    delivery = deliver_pending(engine, app.config, only_outbound=set(report.outbound_ids)) if report.outbound_ids else None
    click.echo(f"{report.reminded} reminders queued ({report.skipped_recent} reminded too recently, "
               f"{report.skipped_max} at the maximum); {delivery.sent if delivery else 0} sent")


@campaign.command("status")
@click.argument("name")
@click.option("--by", type=click.Choice(["departement", "region"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status_cmd(app, name: str, by: str | None, as_json: bool) -> None:
    """Per territory: sent, delivered, bounced, unreachable, replied, confirmed, pending review, approved."""
    app.require_store()

    try:
        with app.sessions() as session:
            status = campaign_status(session, get_campaign(session, name), by=by)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(status)
        return
    header = f"{'territoire':<12}" + "".join(f"{c[:12]:>13}" for c in STATUS_COLUMNS)
    click.echo(header)
    for territory, counts in status.items():
        click.echo(f"{territory:<12}" + "".join(f"{counts[c]:>13}" for c in STATUS_COLUMNS))


__all__ = ["campaign", "RulesFileError"]
