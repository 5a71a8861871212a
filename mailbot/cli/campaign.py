"""Campaign commands: create, list, close, send, remind, status."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import select

from mailbot.outbound.campaign import (
    STATUS_COLUMNS,
    STATUS_LABELS,
    CampaignError,
    campaign_status,
    close_campaign,
    create_campaign,
    remind_campaign,
    send_campaign,
)
from mailbot.cli.app import emit_json, main, pass_app
from mailbot.cli.tables import Column, print_table
from mailbot.cli.terminal import echo
from mailbot.clock import utcnow
from mailbot.outbound.deadlines import DeadlineError, check_not_past, french_date, parse_deadline
from mailbot.outbound.delivery import DeliveryReport, deliver_pending
from mailbot.rules import RulesFileError
from mailbot.shipped import default_rules_path
from store.campaign_models import Campaign, CampaignTarget, OutboundMessage
from mailbot.outbound.campaign import RenderReport, _render_batch, campaign_rules, get_campaign, pending_targets
from mailbot.outbound.summary import reference_lists
from store.queries import territory_names


@main.group()
def campaign() -> None:
    """Campagnes : envoyer à chaque collectivité sa fiche et son formulaire de réponse."""


@campaign.command("create")
@click.argument("name")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fichier de règles (par défaut : le réglage `rules`, sinon rules/campagne-2012.toml fourni).")
@click.option("--deadline", required=True,
              help="Date limite de réponse : 2012-06-30 ou « 30 juin 2012 » (1/2/2013, ambigu, est refusé).")
@click.option("--allow-past", is_flag=True, help="Accepte une date limite déjà passée (rejeu, essai).")
@pass_app
def create_cmd(app, name: str, rules_path: Path | None, deadline: str, allow_past: bool) -> None:
    """Crée la campagne NAME pour toutes les collectivités de l'Atlas."""
    try:
        deadline_date = parse_deadline(deadline)
        check_not_past(deadline_date, utcnow().date(), allow_past=allow_past)
    except DeadlineError as exc:
        raise click.ClickException(f"--deadline : {exc}") from None
    rules_path = rules_path or (Path(app.config.rules) if app.config.rules else None)
    if rules_path is not None and not rules_path.exists():
        raise click.ClickException(f"fichier de règles introuvable : {rules_path}")
    app.require_store()
    try:
        if rules_path is None:
            with default_rules_path() as shipped_rules:
                targets = _create(app, name, shipped_rules, deadline_date)
        else:
            targets = _create(app, name, rules_path, deadline_date)
    except (CampaignError, RulesFileError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Campagne {name} créée : {targets} collectivités, date limite le {french_date(deadline_date)}.")


def _create(app, name: str, rules_path: Path, deadline) -> int:
    with app.sessions.begin() as session:
        created = create_campaign(session, name, rules_path, deadline)
        return session.query(CampaignTarget).filter_by(campaign_id=created.id).count()


def campaign_state(campaign: Campaign, today) -> str:
    if campaign.closed:
        return "close"
    return "ouverte, date limite passée" if campaign.deadline < today else "ouverte"


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app, as_json: bool) -> None:
    """Liste les campagnes : ouvertes ou closes, date limite, règles."""
    app.require_store()
    today = utcnow().date()
    with app.read_sessions() as session:
        campaigns = list(session.scalars(select(Campaign).order_by(Campaign.id)))
    if as_json:
        emit_json([{"name": c.name, "year": c.year, "deadline": c.deadline.isoformat(), "rules": c.rules_path,
                    "closed": bool(c.closed)} for c in campaigns])
        return
    if not campaigns:
        click.echo("Aucune campagne : `mailbot campaign create NOM --deadline DATE` en crée une.")
        return
    print_table([Column("Campagne"), Column("Année", numeric=True), Column("Date limite"), Column("État"),
                 Column("Règles")],
                [(c.name, c.year, french_date(c.deadline), campaign_state(c, today), c.rules_path) for c in campaigns])


@campaign.command("close")
@click.argument("name")
@pass_app
def close_cmd(app, name: str) -> None:
    """Clôt la campagne NAME : plus de relances, et le courrier sans jeton ne lui est plus attribué."""
    app.require_store()
    try:
        with app.sessions.begin() as session:
            closed = close_campaign(session, name)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    if closed:
        click.echo(f"Campagne {name} close : plus aucune relance ; le courrier sans jeton va désormais à la "
                   "campagne ouverte la plus récente, s'il y en a une.")
    else:
        click.echo(f"La campagne {name} était déjà close.")


@campaign.command("send")
@click.argument("name")
@click.option("--only", "only", multiple=True, help="Seulement ce code de collectivité (répétable).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Au plus N collectivités à ce passage.")
@click.option("--dry-run", "dry_run", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Écrit les fichiers .eml dans DIR au lieu d'envoyer (rien n'est enregistré).")
@click.option("--quiet", is_flag=True, help="Sans barre de progression.")
@pass_app
def send_cmd(app, name: str, only: tuple[str, ...], limit: int | None, dry_run: Path | None, quiet: bool) -> None:
    """Prépare et envoie les fiches pas encore envoyées ; peut être interrompu et relancé sans risque."""
    engine = app.require_store()
    if dry_run is not None:
        _dry_run(app, name, list(only) or None, limit, dry_run)
        return
    try:
        with app.read_sessions() as session:
            total = len(_pending(session, name, list(only) or None, limit))
        with _progress_pair(total, quiet) as (rendered_advance, sent_advance):
            report = send_campaign(engine, app.sessions, app.config, name, only=list(only) or None, limit=limit,
                                   on_rendered=rendered_advance, on_sent=sent_advance)
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{report.render.rendered} fiches préparées, {report.render.unreachable} collectivités sans adresse "
               f"utilisable ; {report.sent} envois acceptés par le relais, {report.deferred} différés (nouvel essai "
               f"plus tard), {report.failed} en échec")
    relay_trouble(app, report)


def relay_trouble(app, report: DeliveryReport | None) -> None:
    """One line when the relay refused us or could not be reached, else the first failures."""
    if report is None:
        return
    target = app.config.smtp_target
    if report.relay_error:
        raise click.ClickException(f"envoi interrompu, le relais {target.host}:{target.port} nous refuse : "
                                   f"{report.relay_error}")
    if report.relay_unreachable and not report.sent:
        raise click.ClickException(f"le relais {target.host}:{target.port} est injoignable "
                                   f"({report.relay_unreachable}) : les messages restent en file, `mailbot serve` "
                                   "les enverra (vérifiez MAILBOT_SMTP)")
    for error in report.errors[:10]:
        echo(f"  {error}", err=True)  # a relay's answer may quote what it was sent


@contextmanager
def _progress_pair(total: int, quiet: bool):
    """Two bars: summaries rendered, messages sent (rendering and sending run together)."""
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
    click.echo(f"{len(report.outbound_ids)} messages écrits dans {directory} ({report.unreachable} collectivités "
               "sans adresse utilisable) ; rien n'a été envoyé")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


_DURATION = re.compile(r"^\s*(\d+)\s*([dhj]?)\s*$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        # a one-line error like the others (a BadParameter raised here prints the usage too)
        raise click.ClickException(f"durée illisible « {text} » pour --after : un nombre de jours comme 14d "
                                   "(ou 14j), ou d'heures comme 36h")
    number, unit = int(match.group(1)), match.group(2) or "d"
    return timedelta(hours=number) if unit == "h" else timedelta(days=number)


@campaign.command("remind")
@click.argument("name")
@click.option("--after", default="14d", show_default=True, help="Relance celles restées muettes depuis cette durée (par exemple 14d).")
@click.option("--quiet", is_flag=True)
@pass_app
def remind_cmd(app, name: str, after: str, quiet: bool) -> None:
    """Relance les collectivités qui n'ont ni répondu ni confirmé, en disant ce qui manque encore."""
    engine = app.require_store()
    try:
        report = remind_campaign(engine, app.sessions, app.config, name, after=parse_duration(after))
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    delivery = deliver_pending(engine, app.config, only_outbound=set(report.outbound_ids)) if report.outbound_ids else None
    click.echo(f"{report.reminded} relances préparées ({report.skipped_recent} relancées trop récemment, "
               f"{report.skipped_max} déjà au nombre maximal de relances) ; {delivery.sent if delivery else 0} "
               "envoyées")
    relay_trouble(app, delivery)


TERRITORY_HEADERS = {None: "Territoire", "departement": "Département", "region": "Région"}


@campaign.command("status")
@click.argument("name")
@click.option("--by", type=click.Choice(["departement", "region"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status_cmd(app, name: str, by: str | None, as_json: bool) -> None:
    """Par territoire : envoyées, remises, en erreur, injoignables, réponses, confirmations, à relire, approuvées."""
    app.require_store()

    try:
        with app.read_sessions() as session:
            status = campaign_status(session, get_campaign(session, name), by=by)
            names = territory_names(session, by) if by else {}
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    rows = [(f"{key} {names[key]}" if key in names else key, counts) for key, counts in status.items()]
    if as_json:
        emit_json(status)
        return
    print_table([Column(TERRITORY_HEADERS[by])] + [Column(STATUS_LABELS[c], numeric=True) for c in STATUS_COLUMNS],
                [[label] + [counts[c] for c in STATUS_COLUMNS] for label, counts in rows],
                totals=["Total"] + [sum(counts[c] for _, counts in rows) for c in STATUS_COLUMNS] if by else None)


__all__ = ["campaign", "RulesFileError"]
