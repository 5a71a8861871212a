"""Review commands: the queue, decisions (approve, reject, edit, resolve, revert), history, digest.

Decisions are made by a named reviewer from the configured list; each decided set is then told to
its agent (queued, and delivered at once when the relay answers; `mailbot serve` retries later).
"""
from __future__ import annotations

from pathlib import Path

import click

from mailbot.cli.app import emit_json, main, pass_app
from mailbot.cli.tables import Column, print_table
from mailbot.cli.terminal import echo, printable, write_raw
from mailbot.labels import Labels, change_lines, when
from mailbot.review.decide import BULK_FILTER, approve, bulk_approve, bulk_candidates, bulk_preview, edit, reject, require_reviewer, resolve, revert
from mailbot.review.history import INBOUND_LABELS, OUTBOUND_LABELS, STATUS_LABELS, timeline
from mailbot.review.plausibility import plausibility_warnings
from mailbot.inbound.attachments import human_size, safe_filename, shown_name
from mailbot.review.reply import reply_to_agent
from mailbot.review.verdict import ReviewError
from store.conversation_models import InboundAttachment
from store.models import KINDS
from store.review_queries import QueueFilter, get_changeset, list_changesets, raw_message
from mailbot.review.notify import Names, digest, notify_decided, reading_aids, send_digest
from mailbot.outbound.delivery import deliver_pending

STATUSES = ["pending", "approved", "rejected", "partial", "superseded", "answered", "read", "all"]


def _fail(exc: ReviewError):
    raise click.ClickException(printable(str(exc), keep_lines=True)) from None


@main.group()
def review() -> None:
    """La file des ensembles de modifications à relire."""


@review.command("list")
@click.option("--status", default="pending", show_default=True, type=click.Choice(STATUSES),
              help="État des ensembles (all : tous).")
@click.option("--region", help="Code de la région (53 pour la Bretagne).")
@click.option("--departement", help="Code du département (35, 2A, 971…).")
@click.option("--kind", type=click.Choice(KINDS), help="Catégorie de collectivité.")
@click.option("--trusted/--untrusted", default=None, help="Seulement les ensembles de contacts connus / d'expéditeurs inconnus.")
@click.option("--with-errors/--without-errors", default=None)
@click.option("--with-conflicts/--without-conflicts", default=None)
@click.option("--with-competing/--without-competing", "competing", default=None,
              help="Seulement les ensembles avec / sans modification concurrente d'un autre ensemble en attente (même champ).")
@click.option("--collectivite", help="Code d'une collectivité.")
@click.option("--messages/--changes", "messages", default=None,
              help="Seulement les messages d'agents à lire / seulement les ensembles de modifications.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app, status, region, departement, kind, trusted, with_errors, with_conflicts, competing, collectivite,
             messages, limit: int, page: int, as_json: bool) -> None:
    """Les ensembles de modifications, du plus ancien au plus récent."""
    app.require_store()
    where = QueueFilter(status=None if status == "all" else status, region=region, departement=departement,
                        kind=kind, trusted=trusted, with_errors=with_errors, with_conflicts=with_conflicts,
                        collectivite=collectivite, competing=competing,
                        set_kind=None if messages is None else "message" if messages else "changes")
    with app.read_sessions() as session:
        rows = list_changesets(session, where=where, limit=limit, offset=(page - 1) * limit)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("Aucun ensemble de modifications ne correspond.")
        return
    print_table([Column("N°", numeric=True), Column("Reçu le"), Column("Collectivité"), Column("État"),
                 Column("Changements", numeric=True), Column("Erreurs", numeric=True),
                 Column("Conflits", numeric=True), Column("Expéditeur")],
                [_queue_row(row) for row in rows])


SET_STATUS_LABELS = {"pending": "à examiner", "approved": "approuvé", "rejected": "refusé",
                     "partial": "en partie approuvé", "superseded": "remplacé", "answered": "répondu", "read": "lu"}


def _queue_row(row: dict) -> list:
    errors = sum(1 for c in row["changes"] if c["errors"] and c["status"] == "pending")
    conflicts = sum(1 for c in row["changes"] if c["status"] == "conflict")
    sender = row["sender"] if row["trusted"] else f"{row['sender']} (non reconnu)"
    state = SET_STATUS_LABELS.get(row["status"], row["status"])
    if row["superseded_by"]:
        state += f" par n° {row['superseded_by']}"
    if row["competing"]:  # another agent asked something else of the same field: docs/review.md
        state += f", en concurrence avec n° {', '.join(map(str, row['competing']))}"
    if row.get("set_kind") == "message":  # an agent's words in one of our threads: a person reads them
        state = "message à lire" if row["status"] == "pending" else f"message {state}"
    return [row["id"], f"{row['created_at'][8:10]}/{row['created_at'][5:7]}/{row['created_at'][:4]} "
            f"{row['created_at'][11:16]}", f"{row['collectivite']} {row['collectivite_name']}",
            state, len(row["changes"]), errors, conflicts, sender]


@review.command("show")
@click.argument("changeset_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.option("--raw", is_flag=True, help="Affiche le message d'origine tel qu'il a été reçu.")
@pass_app
def show_cmd(app, changeset_id: int, as_json: bool, raw: bool) -> None:
    """Un ensemble de modifications : chacune en avant → après, avec erreurs, rapprochements et conflits."""
    app.require_store()
    with app.read_sessions() as session:
        row = get_changeset(session, changeset_id)
        if row is not None:
            row["warnings"] = [w.as_dict() for w in plausibility_warnings(session, changeset_id)]
        original = raw_message(session, changeset_id) if raw else None
        aids = reading_aids(session, changeset_id)
    if row is None:
        raise click.ClickException(f"aucun ensemble de modifications n° {changeset_id}")
    if raw:
        if original is None:
            raise click.ClickException(f"l'ensemble n° {changeset_id} n'a pas de message d'origine")
        write_raw(original)
        return
    if as_json:
        emit_json(row)
        return
    for line in describe(row, *aids):
        echo(printable(line))  # one line each: a value's own line breaks cannot start a line of their own


def describe(row: dict, labels: Labels | None = None, names: Names | None = None) -> list[str]:
    """A change set in French for a reviewer: labels and names, never codes or Python values."""
    labels, names = labels or Labels(), names or Names()
    place = f"dép. {row['departement']}" if row["departement"] else f"rég. {row['region']}"
    status = SET_STATUS_LABELS.get(row["status"], row["status"])
    lines = [f"Ensemble n° {row['id']} — {row['collectivite_name']} ({row['collectivite']}, {place}) — {status}",
             f"Reçu le {when(row['created_at'])} de {row['sender'] or '(interne)'}"
             + ("" if row["trusted"] else "  (expéditeur non reconnu)")]
    if row.get("authentication"):
        auth = row["authentication"]
        lines.append(f"Authentification : {auth['label']}" + (f" ({auth['detail']})" if auth["detail"] else ""))
    if row["note"]:
        note = " / ".join(line.strip() for line in row["note"].splitlines() if line.strip())
        lines.append(f"Note de l'agent : {note}")
    lines += [f"Non compris : {problem}" for problem in row.get("not_understood", [])]
    warnings = row.get("warnings", [])  # plausibility (review/plausibility.py): only `review show` reads them
    lines += [f"ATTENTION : {w['message']}" for w in warnings if w["change"] is None]
    if row["superseded_by"]:
        lines.append(f"Remplacé par l'ensemble n° {row['superseded_by']}, réponse plus récente du même expéditeur "
                     f"(mailbot review show {row['superseded_by']}) : il ne peut plus être décidé")
    elif row["decided_by"]:
        lines.append(f"Décidé par {row['decided_by']} le {when(row['decided_at'])}"
                     + (f" — {row['reason']}" if row["reason"] else ""))
    for earlier in row["supersedes"]:
        lines.append(f"Remplace l'ensemble n° {earlier}, réponse précédente du même expéditeur "
                     f"(mailbot review show {earlier})")
    lines += conversation_lines(row)
    for c in row["changes"]:
        lines += change_lines(c, labels, names.records, names.apd_years)
        lines += [f"           ATTENTION : {w['message']}" for w in warnings if w["change"] == c["id"]]
        for r in c.get("competing", []):
            asked = labels.value(c["entity"], c["field"], r["new"])
            lines.append(f"           EN CONCURRENCE avec le changement n° {r['change']} de l'ensemble n° {r['changeset']} "
                         f"({r['sender'] or 'interne'}), qui demande « {asked} » : choisissez ; approuver l'un met "
                         "l'autre en conflit")
    return lines


def conversation_lines(row: dict) -> list[str]:
    """What is around the set: the message it follows up, its files (names escaped: they come from the
    sender), the reviewers' answers."""
    lines = []
    if row.get("set_kind") == "message":
        lines.append("Message à lire (aucune modification demandée)" + (
            f" — suite de l'ensemble n° {row['answers']}" if row.get("answers") else ""))
    for a in row.get("attachments", []):
        state = "conservée" if a["kept"] else "trop volumineuse, dans le message d'origine seulement"
        detected = f", contenu {a['detected_type']}" if a["detected_type"] and a["detected_type"] != a["content_type"] else ""
        lines.append(f"  Pièce jointe [{a['id']}] {shown_name(a['filename'])} ({human_size(a['size'])}, "
                     f"{a['content_type']}{detected}) — {state}")
        if a["dangerous"]:
            lines.append(f"           DANGEREUSE : {a['danger']} — ne l'ouvrez pas")
    if row.get("attachments"):
        lines.append("           enregistrer : mailbot review attachment NUMÉRO --save DOSSIER")
    for r in row.get("replies", []):
        text = " / ".join(line.strip() for line in r["text"].splitlines() if line.strip())
        lines.append(f"  Réponse de {r['reviewer']} le {r['created_at'][:16]} : {text}")
    return lines


def _reviewer(app, name: str | None) -> str:

    try:
        with app.read_sessions() as session:  # an account of the store counts, as in the console
            return require_reviewer(app.config, name, session)
    except ReviewError as exc:
        _fail(exc)


def _report(outcome) -> None:
    parts = [f"ensemble n° {outcome.changeset_id} : {outcome.status}"]
    for label, ids in (("appliqué(s)", outcome.applied), ("rejeté(s)", outcome.rejected),
                       ("en conflit", outcome.conflicts), ("déjà décidé(s)", outcome.untouched),
                       ("concurrent(s) d'autres ensembles mis en conflit", outcome.outdated)):
        if ids:
            parts.append(f"{len(ids)} {label} ({', '.join(map(str, ids))})")
    click.echo(" ; ".join(parts))


def _tell_agents(app, send: bool) -> None:
    """Queue the messages of every decided set, and try to deliver them now."""

    outbound = notify_decided(app.sessions, app.config)
    if not outbound:
        return
    if not send:
        click.echo(f"{len(outbound)} message(s) aux agents en file (envoyés par `mailbot serve`).")
        return

    report = deliver_pending(app.engine, app.config, only_outbound=set(outbound), connections=1)
    line = f"{len(outbound)} message(s) aux agents : {report.sent} envoyé(s)"
    if report.deferred or report.failed:
        line += f", {report.deferred} en attente (relais injoignable ? `mailbot serve` réessaiera), {report.failed} en échec"
    click.echo(line)


def _decide(app, reviewer: str | None, send: bool, decide) -> None:
    """The shell of every decision: a known reviewer, the outcome reported, the agents told."""
    app.require_store()
    name = _reviewer(app, reviewer)
    try:
        _report(decide(name))
    except ReviewError as exc:
        _fail(exc)
    _tell_agents(app, send)


send_option = click.option("--send/--no-send", default=True, show_default=True,
                           help="Envoie tout de suite les messages aux agents (sinon `mailbot serve` s'en charge).")


@review.command("approve")
@click.argument("changeset_id", type=int, required=False)
@click.option("--only", "only", type=int, multiple=True, help="Numéro de modification à approuver (répétable).")
@click.option("--all-trusted-without-errors", "bulk", is_flag=True,
              help="Tous les ensembles en attente d'un contact connu, sans erreur ni conflit.")
@click.option("--dry-run", is_flag=True, help="En lot : liste ce qui serait approuvé, sans rien modifier.")
@click.option("--include-warned", is_flag=True,
              help="En lot : prend aussi les ensembles avec un avertissement de vraisemblance (écartés sinon).")
@click.option("--as", "reviewer", help="Nom du relecteur (par défaut : le réglage `reviewer`).")
@send_option
@pass_app
def approve_cmd(app, changeset_id, only, bulk, dry_run, include_warned, reviewer, send) -> None:
    """Applique un ensemble (ou les modifications désignées par --only) à l'Atlas."""

    if bulk == (changeset_id is not None):
        raise click.ClickException("donnez un numéro d'ensemble, ou --all-trusted-without-errors")
    if not bulk:
        _decide(app, reviewer, send,
                lambda name: approve(app.sessions, app.config, changeset_id, name, only=list(only) or None))
        return
    app.require_store()
    name = _reviewer(app, reviewer)
    if dry_run:
        with app.read_sessions() as session:
            preview = bulk_preview(session, include_warned=include_warned)
            click.echo(f"{len(preview.ids)} ensemble(s) seraient approuvés :")
            for row in list_changesets(session, where=BULK_FILTER, limit=max(len(preview.ids), 1)):
                if row["id"] in preview.ids:
                    echo(printable(f"  #{row['id']} {row['collectivite']} {row['collectivite_name']} — "
                                   f"{len(row['changes'])} changement(s) — {row['sender']}"))
        _tell_warned(preview, include_warned)
        return
    with app.read_sessions() as session:
        ids = bulk_candidates(session)  # warned sets are left out under the lock, each said below
    outcomes = _bulk(app, name, ids, bulk_approve, include_warned)
    applied = sum(len(o.applied) for o in outcomes)
    conflicts = sum(len(o.conflicts) for o in outcomes)
    done = [o for o in outcomes if not o.refused]
    click.echo(f"{len(done)} ensemble(s) traités : {applied} changement(s) appliqué(s), {conflicts} en conflit.")
    for outcome in outcomes:
        if outcome.refused:
            echo(printable(f"  ensemble n° {outcome.changeset_id} laissé de côté : {outcome.refused}"))
    _tell_agents(app, send)


def _tell_warned(preview, include_warned: bool) -> None:
    """The sets with a plausibility warning, each with its first warning: left out, or taken when asked."""
    if not preview.warned:
        return
    verb = "approuvés malgré un avertissement" if include_warned else "laissés de côté pour un avertissement"
    click.echo(f"{len(preview.warned)} ensemble(s) {verb} (mailbot review show N pour le détail) :")
    for set_id, warnings in sorted(preview.warned.items()):
        echo(printable(f"  #{set_id} : {warnings[0].message}"))
    if not include_warned:
        click.echo("  pour les approuver aussi : --include-warned")


def _bulk(app, name, ids, bulk_approve, include_warned: bool):
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("Approbation", total=len(ids))
        return bulk_approve(app.sessions, app.config, name, ids, include_warned=include_warned,
                            on_progress=lambda n: progress.advance(task, n))


@review.command("reject")
@click.argument("changeset_id", type=int)
@click.option("--only", "only", type=int, multiple=True, help="Numéro de modification à rejeter (répétable).")
@click.option("--reason", required=True, help="Pourquoi (en français : l'agent le lit).")
@click.option("--as", "reviewer", help="Nom du relecteur (par défaut : le réglage `reviewer`).")
@send_option
@pass_app
def reject_cmd(app, changeset_id, only, reason, reviewer, send) -> None:
    """Rejette un ensemble (ou les modifications désignées par --only), avec une raison pour l'agent."""

    _decide(app, reviewer, send,
            lambda name: reject(app.sessions, app.config, changeset_id, name, reason, only=list(only) or None))


@review.command("edit")
@click.argument("change_id", type=int)
@click.option("--value", required=True, help="La valeur corrigée, écrite comme sur le formulaire.")
@click.option("--field", "field_key", help="Pour un élément créé : quel champ (clé du fichier de règles, ou _parent).")
@click.option("--as", "reviewer", help="Nom du relecteur (par défaut : le réglage `reviewer`).")
@pass_app
def edit_cmd(app, change_id, value, field_key, reviewer) -> None:
    """Corrige la valeur d'une modification avant de l'approuver ; les règles vérifient la correction."""

    app.require_store()
    name = _reviewer(app, reviewer)
    try:
        change = edit(app.sessions, app.config, change_id, name, value, field_key=field_key)
    except ReviewError as exc:
        _fail(exc)
    echo(printable(f"changement n° {change.id} : {change.new!r}" + (f" (l'agent avait écrit {change.asked!r})"
                                                                    if change.asked is not None else "")))
    for error in change.errors:
        echo(printable(f"  ERREUR {error['code']}: {error['message']}"))


@review.command("resolve")
@click.argument("change_id", type=int)
@click.option("--take", type=click.Choice(["asked", "current"]), required=True,
              help="asked : la valeur de l'agent remplace l'actuelle ; current : l'Atlas reste tel quel.")
@click.option("--reason", help="Avec --take current : pourquoi, pour l'agent.")
@click.option("--as", "reviewer", help="Nom du relecteur (par défaut : le réglage `reviewer`).")
@send_option
@pass_app
def resolve_cmd(app, change_id, take, reason, reviewer, send) -> None:
    """Tranche un conflit dans un sens ou dans l'autre."""

    _decide(app, reviewer, send,
            lambda name: resolve(app.sessions, app.config, change_id, name, take=take, reason=reason))


@review.command("revert")
@click.argument("changeset_id", type=int)
@click.option("--as", "reviewer", help="Nom du relecteur (par défaut : le réglage `reviewer`).")
@pass_app
def revert_cmd(app, changeset_id, reviewer) -> None:
    """Annule un ensemble approuvé par un nouvel ensemble tracé (ses modifications passent aussi le contrôle des conflits)."""

    app.require_store()
    name = _reviewer(app, reviewer)
    try:
        outcome = revert(app.sessions, app.config, changeset_id, name)
    except ReviewError as exc:
        _fail(exc)
    click.echo(f"annulation de l'ensemble n° {changeset_id} :")
    _report(outcome)


@review.command("digest")
@click.option("--send", is_flag=True, help="L'envoie aux relecteurs (réglage digest_to) au lieu de l'afficher.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def digest_cmd(app, send, as_json) -> None:
    """La file en chiffres, pour le récapitulatif quotidien des relecteurs."""

    app.require_store()
    if send:
        to = app.config.digest_addresses
        if not to:
            raise click.ClickException("aucun destinataire : renseignez le réglage digest_to (MAILBOT_DIGEST_TO)")
        outbound_id = send_digest(app.sessions, app.config, to)

        report = deliver_pending(app.engine, app.config, only_outbound={outbound_id}, connections=1)
        click.echo(f"synthèse envoyée à {', '.join(to)} ({report.sent} envoi(s), {report.deferred} en attente)")
        return
    with app.read_sessions() as session:
        data = digest(session)
    if as_json:
        emit_json(data)
        return
    click.echo(f"En attente : {data['pending']} (sans erreur ni conflit, de contacts reconnus : {data['clean']} ; "
               f"avec erreurs : {data['with_errors']} ; en conflit : {data['conflicts']} ; "
               f"expéditeurs non reconnus : {data['untrusted']})")
    if data["oldest"]:
        o = data["oldest"]
        echo(printable(f"Le plus ancien : n° {o['id']}, {o['collectivite']} ({o['code']}), depuis {o['days']} jour(s)"))
    for item in data["conflict_sets"]:
        echo(printable(f"  conflit : n° {item['id']} {item['collectivite']} ({item['code']})"))


@main.command("history")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def history_cmd(app, code, as_json) -> None:
    """Toute la correspondance d'une collectivité, de la plus ancienne à la plus récente : messages reçus et
    envoyés, décisions, et chaque modification appliquée à sa fiche (qui, quand, depuis quel message,
    avant → après)."""

    app.require_store()
    with app.read_sessions() as session:
        try:
            entries = timeline(session, code)
        except ReviewError as exc:
            _fail(exc)
    if as_json:
        emit_json(entries)
        return
    if not entries:
        click.echo("Aucun message ni aucune modification.")
    for e in entries:
        echo(printable(f"{e['at'][:16].replace('T', ' ')}  {timeline_line(e)}"))


def timeline_line(e: dict) -> str:
    if e["type"] == "change":
        where = f"{e['entity']} {e['ref']}" + (f".{e['field']}" if e["field"] else "")
        return (f"{e['reviewer']:<12} ensemble n° {e['changeset']:<5} {e['op']:<6} {where}: "
                f"{e['old']!r} → {e['new']!r}")
    if e["type"] == "decision":
        reason = f" — {e['reason']}" if e["reason"] else ""
        who = f" par {e['reviewer']}" if e["reviewer"] else ""
        return f"ensemble n° {e['changeset']} {STATUS_LABELS.get(e['status'], e['status'])}{who}{reason}"
    if e["type"] == "message_in":
        label = INBOUND_LABELS.get(e["kind"], e["kind"] or "message")
        sets = f" → ensemble(s) n° {', '.join(map(str, e['changesets']))}" if e["changesets"] else ""
        words = f" : « {_one_line(e['text'])} »" if e["text"] else ""
        files = f" ; pièces jointes : {', '.join(shown_name(a['name']) for a in e['attachments'])}" if e["attachments"] else ""
        return f"← reçu de {e['from'] or '(expéditeur vide)'} ({label}){sets}{words}{files}"
    label = OUTBOUND_LABELS.get(e["kind"], e["kind"])
    to = ", ".join(e["to"]) or "—"
    if e["reviewer"]:
        return f"→ {e['reviewer']} a répondu à {to} (ensemble n° {e['changeset']}) : « {_one_line(e['text'])} »"
    return f"→ envoyé à {to} ({label})"


def _one_line(text: str, limit: int = 160) -> str:
    flat = " / ".join(line.strip() for line in shown_name(text).splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


@review.command("reply")
@click.argument("changeset_id", type=int)
@click.option("--message", "text", required=True, help="Ce qu'il faut dire à l'agent (en français : il le lit tel quel).")
@click.option("--as", "reviewer", help="Nom du relecteur (par défaut : le réglage `reviewer`).")
@send_option
@pass_app
def reply_cmd(app, changeset_id, text, reviewer, send) -> None:
    """Répond à l'agent dont le message a produit cet ensemble : un message du robot, signé de vous, dans sa conversation."""
    app.require_store()
    name = _reviewer(app, reviewer)
    try:
        with app.sessions.begin() as session:
            sent = reply_to_agent(session, app.config, changeset_id, name, text)
    except ReviewError as exc:
        _fail(exc)
    echo(printable(f"réponse à {sent.to} en file (message n° {sent.outbound_id}) ; ensemble n° {changeset_id} : "
                   f"{SET_STATUS_LABELS.get(sent.changeset_status, sent.changeset_status)}"))
    if send:
        report = deliver_pending(app.engine, app.config, only_outbound={sent.outbound_id}, connections=1)
        click.echo("envoyée." if report.sent else "relais injoignable : `mailbot serve` l'enverra.")


@review.command("attachment")
@click.argument("attachment_id", type=int)
@click.option("--save", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Dossier où écrire le fichier (créé s'il manque).")
@click.option("--force", is_flag=True, help="Enregistre un fichier signalé dangereux (sous un nom qui ne l'exécute pas).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def attachment_cmd(app, attachment_id, directory, force, as_json) -> None:
    """Une pièce jointe d'un message d'agent : ce qu'elle est, et l'enregistrer avec --save DIR."""
    app.require_store()
    with app.read_sessions() as session:
        row = session.get(InboundAttachment, attachment_id)
        if row is None:
            raise click.ClickException(f"aucune pièce jointe n° {attachment_id}")
        info = {"id": row.id, "inbound_id": row.inbound_id, "filename": row.filename, "content_type": row.content_type,
                "detected_type": row.detected_type, "category": row.category, "size": row.size, "sha256": row.sha256,
                "kept": row.data is not None, "dangerous": row.dangerous, "danger": row.danger}
        data = row.data
    if directory is None:
        if as_json:
            emit_json(info)
            return
        echo(f"Pièce jointe n° {info['id']} du message n° {info['inbound_id']} : {shown_name(info['filename'])} "
                   f"({human_size(info['size'])}, {info['content_type']}"
                   + (f", contenu {info['detected_type']}" if info["detected_type"] else "") + ")")
        if info["dangerous"]:
            echo(f"DANGEREUSE : {info['danger']}")
        return
    if data is None:
        raise click.ClickException("trop volumineuse pour avoir été conservée à part : "
                                   f"elle est dans le message d'origine (mailbot inbox show {info['inbound_id']} --raw)")
    if info["dangerous"] and not force:
        raise click.ClickException(f"pièce jointe dangereuse ({info['danger']}) : --force pour l'enregistrer quand même")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / safe_filename(info["filename"], info["id"], dangerous=info["dangerous"])
    try:
        with open(target, "xb") as out:  # never over an existing file (nor through a link); never outside DIR
            out.write(data)
    except FileExistsError:
        raise click.ClickException(f"{target} existe déjà : rien n'a été écrit") from None
    echo(f"enregistrée : {target}")
