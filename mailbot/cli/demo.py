"""`mailbot demo`: the whole loop on embedded defaults, step by step, in ./demo-out/.

A small Atlas is seeded; a campaign goes to a local SMTP sink; a few agents answer the way their mail
clients write (Gmail, Outlook, Thunderbird, a one-word « RAS ») through real SMTP to the running
server; the pending change sets are listed; a reviewer approves some and rejects one; the agents are
told; the store and its history show the result. Every message lands in ./demo-out/eml/.
"""
from __future__ import annotations

import shutil
import smtplib
import threading
from dataclasses import dataclass
from datetime import date
from email import policy
from email.parser import BytesParser
from pathlib import Path

import click


from mailbot.cli.app import main
from mailbot.cli.atlas import STAT_LABELS
from mailbot.cli.tables import echo_text
from mailbot.clock import smtp_listening, wait_for
from mailbot.config import load_config
from mailbot.shipped import default_rules_path
from mailbot.serve import run_serve
from mailbot.devtools.sink import free_port, start_sink
from store import queries
from store.db import make_engine, session_factory, upgrade
from store.seed import seed_atlas
from mailbot.outbound.campaign import STATUS_LABELS, campaign_status, create_campaign, get_campaign, render_campaign
from mailbot.outbound.delivery import deliver_pending
from mailbot.devtools.client_shapes import chain, gmail, outlook_html_only, plain_answer, set_field, thunderbird_flowed
from store.inbound_models import InboundMessage
from mailbot.cli.review import describe
from store.review_queries import QueueFilter, get_changeset, list_changesets
from mailbot.review.decide import approve, reject
from mailbot.review.history import history
from mailbot.review.verdict import ReviewError
from mailbot.review.notify import notify_decided, reading_aids
from store.campaign_models import OutboundMessage
from store.queries import collectivite_record, format_record
from mailbot.web.accounts import add_reviewer, printed_link
from mailbot.web.server import run_foreground

DEMO_SCALE = 0.05
DEMO_CAMPAIGN = "campagne-2012"
DEMO_REVIEWER = "Claire Martin (DAECT)"
DEMO_REVIEWER_EMAIL = "claire.martin@diplomatie.gouv.fr"
DECISION_LABELS = {"approved": "approuvé", "partial": "en partie approuvé", "rejected": "refusé", "pending": "en attente"}
OP_LABELS = {"update": "modification", "create": "ajout", "delete": "suppression"}


def step(number: int, text: str) -> None:
    click.secho(f"\n== {number}. {text}", fg="cyan", bold=True)


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


@dataclass
class Summary:
    raw: bytes
    agent: str
    text: str
    subject: str
    reply_to: str

    def refs(self, prefix: str) -> list[str]:
        return [line.split()[1] for line in self.text.splitlines() if line.startswith(f"#### {prefix}-")]


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Dossier de la base et des courriels de la démonstration (vidé d'abord).")
@click.option("--scale", type=click.FloatRange(0.01, 1.0), default=DEMO_SCALE, show_default=True,
              help="Taille de l'Atlas de démonstration (1 : celui de la circulaire).")
@click.option("--send", "send_count", type=click.IntRange(4, 500), default=8, show_default=True,
              help="Nombre de collectivités qui reçoivent leur fiche dans la démonstration.")
@click.option("--web", "with_web", is_flag=True,
              help="Puis sert la console web des relecteurs sur la base de démonstration, jusqu'à Ctrl-C.")
def demo(out_dir: Path, scale: float, send_count: int, with_web: bool) -> None:
    """Toute la boucle : Atlas, campagne, réponses des agents par SMTP, relecture, avis, historique."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    db_url = f"sqlite:///{out_dir / 'atlas.sqlite'}"
    controller, sink = start_sink(directory=out_dir / "eml")
    listen = free_port()
    config = load_config(environ={
        "MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
        "MAILBOT_LISTEN": f"127.0.0.1:{listen}", "MAILBOT_REVIEWERS": DEMO_REVIEWER,
    })
    stop = threading.Event()
    server = None
    try:
        engine, sessions = _seed(out_dir, db_url, scale)
        summaries = _campaign(engine, sessions, config, sink, send_count, out_dir)
        step(4, f"`mailbot serve` démarre : écoute SMTP sur 127.0.0.1:{listen}, traitement, envoi vers le puits local")
        server = threading.Thread(target=run_serve, args=(config,), kwargs={"stop_event": stop, "dev": True},
                                  daemon=True)
        server.start()
        _wait_listening(listen)
        replies = _agents_reply(summaries, listen)
        _acknowledgements(sessions, sink, replies)
        set_ids = _queue(sessions)
        _review(config, sessions, set_ids)
        _notices(config, sessions, sink)
        _result(sessions, replies)
        _console_account(sessions)
        if with_web:
            _serve_console(config, sessions)
    finally:
        stop.set()
        if server is not None:
            server.join(timeout=30)
        controller.stop()
    click.secho(f"\nTerminé. Base : {db_url} — chaque message de la boucle : {out_dir / 'eml'}/*.eml", fg="green")
    if not with_web:
        click.echo("La console de relecture sur ce magasin : `mailbot demo --web` (ou "
                   f"`MAILBOT_DB={db_url} mailbot web`, puis le lien que donne "
                   f"`MAILBOT_DB={db_url} mailbot reviewers link \"{DEMO_REVIEWER}\"`).")


def _console_account(sessions) -> None:
    """The demo's reviewer gets a console account, so the store opens in `mailbot web` at once."""
    add_reviewer(sessions, DEMO_REVIEWER, DEMO_REVIEWER_EMAIL)


def _serve_console(config, sessions) -> None:
    step(11, "La console de relecture")
    host, port = config.web_address
    click.echo(f"   console : http://{host}:{port}/ — relecteur {DEMO_REVIEWER} <{DEMO_REVIEWER_EMAIL}>")
    click.echo(f"   ouvrez ce lien de connexion (valable 15 minutes, une fois) : {printed_link(sessions, config, DEMO_REVIEWER)}")
    click.echo("   les messages de connexion et les avis aux agents arrivent dans le dossier eml ; Ctrl-C pour arrêter")
    run_foreground(config)


# --- 1-3: seed and campaign ------------------------------------------------------------------------------

def _seed(out_dir: Path, db_url: str, scale: float):

    step(1, f"Un Atlas local (SQLite {out_dir / 'atlas.sqlite'}) rempli à l'échelle {scale}")
    engine = make_engine(db_url)
    upgrade(engine)
    seed_atlas(engine, scale=scale, seed=2012)
    sessions = session_factory(engine)
    with sessions() as session:
        figures = queries.atlas_stats(session)
    for key, value in figures.items():
        click.echo(f"   {STAT_LABELS.get(key, key):<40} {value:>7}")
    return engine, sessions


def _campaign(engine, sessions, config, sink, send_count: int, out_dir: Path) -> list[Summary]:

    step(2, f"Campagne {DEMO_CAMPAIGN} (rules/campagne-2012.toml), envoyée à {send_count} collectivités")
    with default_rules_path() as rules, sessions.begin() as session:
        create_campaign(session, DEMO_CAMPAIGN, rules, date(2012, 6, 30))
    rendered = render_campaign(engine, sessions, config, DEMO_CAMPAIGN, limit=send_count)
    report = deliver_pending(engine, config)
    click.echo(f"   {rendered.rendered} fiches préparées, {report.sent} envois acceptés par le puits SMTP local "
               f"sur le port {config.smtp_target.port}")
    click.echo(f"   à ouvrir dans un logiciel de messagerie : {out_dir / 'eml'}/*.eml")
    summaries = _summaries(sink.messages)
    step(3, "Une fiche, telle que l'agent la lit (partie texte, premières lignes)")
    _print_text(summaries[0], lines=32)
    return summaries


def _summaries(messages) -> list[Summary]:
    seen, found = set(), []
    for envelope in messages:
        message = parse(envelope.content)
        if message["Message-ID"] in seen:
            continue
        seen.add(message["Message-ID"])
        found.append(Summary(envelope.content, envelope.rcpt_tos[0], message.get_body(("plain",)).get_content(),
                             str(message["Subject"]), str(message["Reply-To"])))
    return found


def _print_text(summary: Summary, lines: int) -> None:
    echo_text(f"   Objet : {summary.subject}")
    echo_text(f"   Répondre à : {summary.reply_to}")
    body = summary.text.splitlines()
    for line in body[:lines]:
        echo_text(f"   | {line}")
    if len(body) > lines:
        click.echo(f"   | … ({len(body) - lines} lignes de plus)")


def _wait_listening(port: int) -> None:
    _wait(lambda: smtp_listening(port), seconds=30)


def _wait(predicate, seconds: float = 60):
    try:
        return wait_for(predicate, seconds, interval=0.2)
    except TimeoutError:
        raise click.ClickException("la démonstration a attendu le serveur trop longtemps") from None


# --- 5-6: agents reply, the bot acknowledges -------------------------------------------------------------

@dataclass
class Reply:
    who: str
    summary: Summary
    raw: bytes
    told: str

    @property
    def message_id(self) -> str:
        return str(parse(self.raw)["Message-ID"])


def _agents_reply(summaries: list[Summary], port: int) -> list[Reply]:

    step(5, "Des agents répondent depuis leur propre messagerie, par SMTP, au serveur")
    a, b, c, d = _pick(summaries)
    domain = b.agent.split("@")[1]
    apd_label = next(line.split(":")[0].strip() for line in a.text.splitlines() if line.startswith("Montant "))
    replies = [
        Reply("Gmail, corrections dans la citation", a, gmail(a.raw, chain(
            set_field(a.refs("CT")[0], "Titre", "Maire adjointe chargée des relations internationales"),
            set_field("APD", apd_label, "12 500 €")), a.agent),
            f"contact {a.refs('CT')[0]} : nouveau titre ; APD : « 12 500 € »"),
        Reply("Outlook, HTML seul, windows-1252", b, outlook_html_only(b.raw, chain(
            set_field("NOUVEAU-CONTACT", "Prénom", "Inès"), set_field("NOUVEAU-CONTACT", "Nom", "Bernard"),
            set_field("NOUVEAU-CONTACT", "Titre", "Chargée de mission coopération"),
            set_field("NOUVEAU-CONTACT", "Courriel", f"ines.bernard@{domain}"),
            set_field("NOUVEAU-CONTACT", "Fonction", "cadre")), b.agent),
            "un nouveau contact, Inès Bernard"),
        Reply("Thunderbird, format=flowed", c, thunderbird_flowed(c.raw, chain(
            set_field(c.refs("CT")[0], "Titre", "Directeur général des services"),
            set_field(c.refs("CT")[0], "Courriel", "j.martin@@mairie")), c.agent),
            f"contact {c.refs('CT')[0]} : nouveau titre, et une adresse électronique mal tapée"),
        Reply("iPhone, un mot", d, plain_answer(d.raw, "RAS", d.agent), "« RAS » : rien à changer"),
    ]
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for reply in replies:
            smtp.sendmail(reply.summary.agent, [reply.summary.reply_to], _crlf(reply.raw))
            click.echo(f"   {reply.summary.agent:<46} {reply.who:<34} {reply.told}")
    return replies


def _pick(summaries: list[Summary]) -> tuple[Summary, Summary, Summary, Summary]:
    with_contacts = [s for s in summaries if s.refs("CT")]
    if len(with_contacts) < 4:
        raise click.ClickException("la démonstration a besoin de quatre fiches avec des contacts : augmentez --send")
    return tuple(with_contacts[:4])  # type: ignore[return-value]


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _acknowledgements(sessions, sink, replies: list[Reply]) -> None:
    from sqlalchemy import func, select


    step(6, "Le serveur enregistre chaque réponse, la lit et répond à l'agent ce qu'il a compris")

    def processed():
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(InboundMessage)
                                  .where(InboundMessage.processed_at.is_not(None))) >= len(replies)
    _wait(processed)
    _show_arrivals(sink, "In-Reply-To", {r.message_id for r in replies})


def _show_arrivals(sink, header: str, wanted: set[str]) -> None:
    """Wait until one message per wanted header value reached the sink, then print what each says."""
    def arrived():
        found = [m for m in sink.messages if parse(m.content)[header] in wanted]
        return found if len(found) >= len(wanted) else None
    for envelope in _wait(arrived):
        message = parse(envelope.content)
        echo_text(f"   → {envelope.rcpt_tos[0]} : {message['Subject']}")
        for line in _gist(message.get_body(("plain",)).get_content()):
            echo_text(f"       {line}")


def _gist(text: str) -> list[str]:
    """The lines that say what was understood or refused, not the greeting and signature."""
    keep = []
    for line in text.splitlines():
        if line.strip().startswith(("- ", "Raison")) or "Aucune modification" in line or "pas pu prendre" in line:
            keep.append(line.strip())
    return keep[:8]


# --- 7-9: the reviewers' queue, decisions, notices -------------------------------------------------------

def _queue(sessions) -> list[int]:

    step(7, "La file des relecteurs : `mailbot review list`, puis `review show` de chaque ensemble")
    with sessions() as session:
        rows = list_changesets(session, where=QueueFilter(status="pending"))
        for row in rows:
            for line in describe(get_changeset(session, row["id"]), *reading_aids(session, row["id"])):
                echo_text(f"   {line}")
    return [row["id"] for row in rows]


def _review(config, sessions, set_ids: list[int]) -> None:

    step(8, f"La relectrice ({DEMO_REVIEWER}) décide")
    for set_id in set_ids:
        with sessions() as session:
            row = get_changeset(session, set_id)
        erroneous = [c["id"] for c in row["changes"] if c["errors"]]
        if not erroneous:
            outcome = approve(sessions, config, set_id, DEMO_REVIEWER)
            click.echo(f"   review approve {set_id} : {len(outcome.applied)} modification(s) appliquée(s) → "
                       f"{DECISION_LABELS.get(outcome.status, outcome.status)}")
            continue
        try:
            approve(sessions, config, set_id, DEMO_REVIEWER)
        except ReviewError as exc:
            click.echo(f"   review approve {set_id} : refusé — {exc}")
        clean = [c["id"] for c in row["changes"] if not c["errors"]]
        if clean:
            outcome = approve(sessions, config, set_id, DEMO_REVIEWER, only=clean)
            click.echo(f"   review approve {set_id} --only {' '.join(map(str, clean))} : "
                       f"{len(outcome.applied)} appliquée(s)")
        reason = "Adresse électronique illisible : renvoyez-nous la bonne adresse en répondant à ce message."
        outcome = reject(sessions, config, set_id, DEMO_REVIEWER, reason, only=erroneous)
        click.echo(f"   review reject {set_id} --only {' '.join(map(str, erroneous))} --reason « {reason} » "
                   f"→ {DECISION_LABELS.get(outcome.status, outcome.status)}")


def _notices(config, sessions, sink) -> None:

    step(9, "Chaque agent apprend ce qui a été approuvé et ce qui ne l'a pas été (en réponse à son message)")
    outbound_ids = notify_decided(sessions, config)
    with sessions() as session:
        ids = {session.get(OutboundMessage, i).message_id for i in outbound_ids}
    _show_arrivals(sink, "Message-ID", ids)


def _result(sessions, replies: list[Reply]) -> None:

    step(10, "L'Atlas maintenant : `mailbot show CODE` et `mailbot history CODE`")
    with sessions() as session:
        codes = []
        for reply in replies[:3]:
            code = reply.summary.subject.rsplit("(", 1)[1].rstrip(")")
            codes.append(code)
            record = format_record(collectivite_record(session, code)).splitlines()
            contacts_end = next(i for i, line in enumerate(record) if line.startswith("Associations"))
            for line in record[:contacts_end]:
                echo_text(f"   {line}")
            apd_start = record.index("Aide publique au développement:")
            apd_end = next(i for i in range(apd_start + 1, len(record)) if not record[i].startswith("  "))
            for line in record[apd_start:apd_end]:
                echo_text(f"   {line}")
        click.echo("")
        for code in codes:
            for entry in history(session, code):
                echo_text(f"   {entry['at'][:10]} {entry['at'][11:16]}  {code:<12} {entry['reviewer']}  "
                          f"{OP_LABELS.get(entry['op'], entry['op'])} {entry['ref']}"
                          f"{' (' + entry['field'] + ')' if entry['field'] else ''} : "
                          f"{_shown(entry['old'])} → {_shown(entry['new'])}")
        status = campaign_status(session, get_campaign(session, DEMO_CAMPAIGN))
    click.echo(f"\n   campaign status : {_status_line(status['France'])}")


def _status_line(total: dict) -> str:
    keys = ("sent", "delivered", "replied", "confirmed", "pending_review", "approved")
    return ", ".join(f"{STATUS_LABELS[k].lower()} {total[k]}" for k in keys if k in total)


def _shown(value) -> str:
    """A history value as a person reads it: « texte », or — for nothing."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dict):  # a record added: what a person would say of it, not its internal fields
        return ", ".join(str(v) for k, v in value.items() if v and k not in ("ref", "version", "email_state", "role"))
    return f"« {value} »" if isinstance(value, str) else str(value)
