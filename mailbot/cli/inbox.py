"""Mail-in commands: serve, and the inbox for humans (list, show, reprocess)."""
from __future__ import annotations

import logging
import sys

import click
from sqlalchemy import select

from mailbot.cli.app import emit_json, main, pass_app
from mailbot.cli.tables import Column, echo_text, print_table
from mailbot.cli.terminal import write_raw
from mailbot.serve import ServeError, run_serve
from store.inbound_models import INBOUND_KINDS, INBOUND_STATES, InboundMessage
from mailbot.inbound.queue import InboxError, reprocess as reprocess_message

LIST_COLUMNS = ("id", "received_at", "source", "state", "kind", "sender", "subject", "reason")
STATE_LABELS = {"queued": "en file", "processing": "en cours", "done": "traité", "error": "en erreur"}
KIND_LABELS = {
    "reply": "réponse", "invalid_token": "jeton invalide", "bounce": "rejet (bounce)", "autoreply": "réponse automatique",
    "list": "liste de diffusion", "bulk": "envoi en nombre", "command": "commande", "own": "notre propre message",
    "duplicate": "doublon", "malformed": "illisible", "unknown": "inconnu",
}
DETAIL_LABELS = {
    "id": "Numéro", "received_at": "Reçu le", "source": "Source", "state": "État", "kind": "Nature",
    "sender": "Expéditeur", "subject": "Objet", "reason": "Motif", "message_id": "Message-ID",
    "from_header": "En-tête From", "envelope_from": "Enveloppe (MAIL FROM)", "envelope_to": "Enveloppe (RCPT TO)",
    "peer": "Client SMTP", "imap_ref": "Référence IMAP", "size": "Taille (octets)", "attempts": "Tentatives",
    "processed_at": "Traité le", "error": "Erreur", "collectivite_id": "Collectivité (id)",
    "campaign_id": "Campagne (id)", "answered_outbound_id": "Répond au message (id)",
    "response_outbound_id": "Notre réponse (id)", "trusted": "Expéditeur reconnu", "flag": "Signalement",
    "parse_state": "Lecture du formulaire", "details": "Détails",
}


@main.command()
@click.option("--workers", type=click.IntRange(1, 32), default=2, show_default=True,
              help="Fils de traitement du courrier reçu (classement et aiguillage).")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), default="INFO",
              show_default=True)
@click.option("--dev", is_flag=True, help="Accepte le secret de développement (jamais en production).")
@pass_app
def serve(app, workers: int, log_level: str, dev: bool) -> None:
    """Reçoit le courrier (SMTP, et IMAP si MAILBOT_IMAP est défini), le traite et envoie le courrier en attente."""
    app.require_store()
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level != "DEBUG":
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
    try:
        status = run_serve(app.config, workers=workers, dev=dev)
    except ServeError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(status)


@main.group()
def inbox() -> None:
    """Messages reçus : comment ils ont été classés, et pourquoi."""


@inbox.command("list")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(INBOUND_KINDS), help="Seulement ces sortes de message (répétable).")
@click.option("--state", "states", multiple=True, type=click.Choice(INBOUND_STATES), help="Seulement ces états (répétable).")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app, kinds: tuple[str, ...], states: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Les derniers messages, du plus récent au plus ancien."""
    app.require_store()
    query = select(InboundMessage).order_by(InboundMessage.id.desc()).limit(limit)
    if kinds:
        query = query.where(InboundMessage.kind.in_(kinds))
    if states:
        query = query.where(InboundMessage.state.in_(states))
    with app.read_sessions() as session:
        rows = [_summary(message) for message in session.scalars(query)]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("Aucun message reçu ne correspond.")
        return
    print_table([Column("N°", numeric=True), Column("Reçu le"), Column("État"), Column("Nature"), Column("Expéditeur"),
                 Column("Objet")],
                [(row["id"], f"{row['received_at']:%d/%m/%Y %H:%M}", STATE_LABELS.get(row["state"], row["state"]),
                  KIND_LABELS.get(row["kind"], row["kind"] or "à classer"), row["sender"] or "<>", row["subject"])
                 for row in rows])


@inbox.command()
@click.argument("inbound_id", type=int)
@click.option("--raw", is_flag=True, help="Affiche le message tel qu'il a été reçu.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def show(app, inbound_id: int, raw: bool, as_json: bool) -> None:
    """Un message : enveloppe, classement, suite donnée."""
    app.require_store()
    with app.read_sessions() as session:
        message = session.get(InboundMessage, inbound_id)
        if message is None:
            raise click.ClickException(f"aucun message reçu n° {inbound_id} (voir `mailbot inbox list`)")
        if raw:
            write_raw(message.raw)
            return
        record = _detail(message)
    if as_json:
        emit_json(record)
        return
    labels = {"state": STATE_LABELS, "kind": KIND_LABELS}
    print_table([Column("Champ"), Column("Valeur")],
                [(DETAIL_LABELS.get(key, key), labels[key].get(value, value) if key in labels else _plain(value))
                 for key, value in record.items()])


@inbox.command()
@click.argument("inbound_id", type=int)
@pass_app
def reprocess(app, inbound_id: int) -> None:
    """Classe et aiguille à nouveau un message, tout de suite (après une correction, ou pour reprendre une erreur)."""

    app.require_store()
    try:
        message = reprocess_message(app.engine, app.config, inbound_id)
    except InboxError as exc:
        raise click.ClickException(str(exc)) from None
    echo_text(f"n° {message.id} : {STATE_LABELS.get(message.state, message.state)} · "
              f"{KIND_LABELS.get(message.kind, message.kind)} · {message.reason}")
    if message.error:
        echo_text(f"erreur : {message.error}")


def _plain(value) -> str:
    """A value as a person reads it: yes/no, not True/False; nothing, not None."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


def _summary(message: InboundMessage) -> dict:
    return {column: getattr(message, column) for column in LIST_COLUMNS}


def _detail(message: InboundMessage) -> dict:
    return {
        **_summary(message),
        "message_id": message.message_id,
        "from_header": message.from_header,
        "envelope_from": message.envelope_from,
        "envelope_to": message.envelope_to,
        "peer": message.peer,
        "imap_ref": message.imap_ref,
        "size": message.size,
        "attempts": message.attempts,
        "processed_at": message.processed_at,
        "error": message.error,
        "collectivite_id": message.collectivite_id,
        "campaign_id": message.campaign_id,
        "answered_outbound_id": message.answered_outbound_id,
        "response_outbound_id": message.response_outbound_id,
        "trusted": message.trusted,
        "flag": message.flag,
        "parse_state": message.parse_state,
        "details": message.details,
    }
