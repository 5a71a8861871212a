"""Préfectures, end to end on SQLite and PostgreSQL, with real mail over SMTP: the directory, one
circular per préfecture with its territory attached, messages without a token (forwarded circulars,
plain requests) turned into forms, questions or requests, and territory reports that agree with
`campaign status`."""
from __future__ import annotations

import csv
import io
import json
import smtplib
import threading
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from mailbot.devtools import client_shapes
from mailbot.clock import wait_for
from mailbot.outbound.campaign import campaign_status, create_campaign, get_campaign, render_campaign, target_states
from mailbot.cli.commands import main
from mailbot.config import load_config
from mailbot.outbound.delivery import deliver_pending
from mailbot.serve import run_serve
from mailbot.devtools.sink import free_port, start_sink
from mailbot.outbound.form import mask_address
from store.campaign_models import Campaign, OutboundMessage
from store.models import Collectivite, Contact, Prefecture
from store.review_models import Change, ChangeSet

RULES = Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml"
BOT = "atlas@cncd.example.fr"


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def text_of(received) -> str:
    return parse(received.content).get_body(("plain",)).get_content()


def csv_rows(received) -> list[dict]:
    [attachment] = list(parse(received.content).iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    return list(csv.DictReader(io.StringIO(attachment.get_content().lstrip("\ufeff")), delimiter=";"))


def _wait(predicate, seconds: float = 30):
    return wait_for(predicate, seconds)


@pytest.fixture
def loop(seeded_db_url, seeded_sessions, seeded_engine):
    """A running `serve` whose relay is a local sink, over the seeded Atlas plus the Bretagne région,
    with Quimper's contacts left without an address (unreachable), and a campaign."""
    controller, sink = start_sink()
    port = free_port()
    env = {"MAILBOT_DB": seeded_db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
           "MAILBOT_LISTEN": f"127.0.0.1:{port}", "MAILBOT_SECRET": "prefectures", "MAILBOT_FROM": BOT}
    config = load_config(environ=env)
    with seeded_sessions.begin() as session:
        session.execute(update(Collectivite).where(Collectivite.code == "REG-53").values(in_atlas=True))
        quimper = session.scalar(select(Collectivite.id).where(Collectivite.code == "COM-29232"))
        session.execute(update(Contact).where(Contact.collectivite_id == quimper).values(email=None))
        create_campaign(session, "c2012", RULES, date(2012, 6, 30))
    stop = threading.Event()
    thread = threading.Thread(target=run_serve, args=(config,), kwargs={"stop_event": stop}, daemon=True)
    thread.start()
    _wait(lambda: _listening(port), 20)
    yield Loop(config, env, sink, port, seeded_sessions, seeded_engine)
    stop.set()
    thread.join(timeout=30)
    controller.stop()


def _listening(port: int) -> bool:
    try:
        smtplib.SMTP("127.0.0.1", port, timeout=2).quit()
        return True
    except OSError:
        return False


class Loop:
    def __init__(self, config, env, sink, port, sessions, engine):
        self.config, self.env, self.sink, self.port, self.sessions, self.engine = config, env, sink, port, sessions, engine

    def cli(self, *args: str):
        result = CliRunner().invoke(main, list(args), env=self.env)
        assert result.exit_code == 0, result.output
        return result.output

    def send(self, sender: str, body: str, *, subject: str = "Atlas", in_reply_to: str | None = None,
             display: str = "") -> int:
        """Mail the bot as an agent would; returns how many messages the sink held before."""
        msg = EmailMessage()
        msg["From"] = f"{display} <{sender}>" if display else sender
        msg["To"] = BOT
        msg["Subject"] = subject
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
        if in_reply_to:
            msg["In-Reply-To"] = msg["References"] = in_reply_to
        msg.set_content(body)
        return self.send_raw(sender, msg.as_bytes())

    def send_raw(self, sender: str, raw: bytes) -> int:
        before = len(self.sink.messages)
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            smtp.sendmail(sender, [BOT], raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        return before

    def answer_to(self, address: str, before: int):
        return _wait(lambda: next((m for m in self.sink.messages[before:] if m.rcpt_tos == [address]), None))

    def circulars(self) -> dict[str, object]:
        self.cli("circular", "send", "c2012")
        return self.arrived_circulars()

    def arrived_circulars(self) -> dict[str, object]:
        """Every préfecture's circular in the sink: the running server's delivery worker may hold
        some of them a moment after the command returns (it claims queued mail too)."""
        with self.sessions() as session:
            expected = session.scalar(select(func.count()).select_from(Prefecture))

        def all_there():
            found = {m.rcpt_tos[0]: m for m in self.sink.messages if "Circulaire" in parse(m.content)["Subject"]}
            return found if len(found) >= expected else None
        return _wait(all_there)


def contact_of(sessions, code: str) -> str:
    with sessions() as session:
        return session.scalar(select(Contact.email).join(Collectivite, Contact.collectivite_id == Collectivite.id)
                              .where(Collectivite.code == code, Contact.email.is_not(None)).order_by(Contact.id))


# --- the directory ------------------------------------------------------------------------------------------

def test_directory_import_updates_departements_and_region_seats_all_or_nothing(loop, tmp_path):
    good = tmp_path / "prefectures.csv"
    good.write_text("code;nom;adresse;courriel\n"
                    "35;Préfecture d'Ille-et-Vilaine;\"3 avenue de la Préfecture\n35026 RENNES CEDEX 9\";pref-35@interieur.gouv.fr\n"
                    "REG-44;Préfecture de la région Grand Est;\"5 place de la République\n67073 STRASBOURG\";\n"
                    "2A;Préfecture de Corse-du-Sud;\"Palais Lantivy\n20188 AJACCIO\";pref-2a@interieur.gouv.fr\n",
                    encoding="utf-8")
    assert "0 préfectures créées, 3 mises à jour" in loop.cli("prefectures", "import", str(good))
    rows = {row["departement"]: row for row in json.loads(loop.cli("prefectures", "list", "--json"))}
    assert len(rows) == 109
    assert rows["35"]["email"] == "pref-35@interieur.gouv.fr" and rows["35"]["address"].endswith("RENNES CEDEX 9")
    seat = next(row for row in rows.values() if row["region"] == "44" and row["is_region_seat"])
    assert seat["departement"] == "67" and seat["name"] == "Préfecture de la région Grand Est"
    assert seat["email"] == "prefecture-67@prefectures.example.fr"  # no address in the file: kept
    assert rows["35"]["in_atlas"] == 3  # Combourg, Gaël and the Bretagne région (its seat is 35)

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,address,email\n29,Préfecture du Finistère,Quimper,pref-29@interieur.gouv.fr\n"
                   "99,Nulle part,Ici,x@y.fr\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["prefectures", "import", str(bad)], env=loop.env)
    assert result.exit_code == 1 and "ligne 3" in result.output and "99" in result.output
    rows = {row["departement"]: row for row in json.loads(loop.cli("prefectures", "list", "--json"))}
    assert rows["29"]["email"] == "prefecture-29@prefectures.example.fr"  # nothing written


# --- the circular --------------------------------------------------------------------------------------------

def test_each_prefecture_receives_exactly_one_circular_with_its_territory(loop):
    loop.cli("circular", "send", "c2012")
    assert "0 circulaires préparées (109 déjà envoyées" in loop.cli("circular", "send", "c2012")
    loop.arrived_circulars()
    circulars = [m for m in loop.sink.messages if "Circulaire" in parse(m.content)["Subject"]]
    with loop.sessions() as session:
        prefectures = {p.email: p for p in session.scalars(select(Prefecture))}
        atlas = session.execute(select(Collectivite.code, Collectivite.kind, Collectivite.departement,
                                       Collectivite.region).where(Collectivite.in_atlas.is_(True))).all()
    assert sorted(m.rcpt_tos[0] for m in circulars) == sorted(prefectures)  # each exactly once
    for message in circulars:
        prefecture = prefectures[message.rcpt_tos[0]]
        expected = sorted(code for code, kind, dep, region in atlas
                          if dep == prefecture.departement or (kind == "region" and prefecture.is_region_seat
                                                               and region == prefecture.region))
        rows = csv_rows(message)
        assert [row["code"] for row in rows] == expected
        body = text_of(message)
        assert BOT in body and "30 juin 2012" in body and "2010" in body and prefecture.ref in body
        assert all(code in body for code in expected)  # the readable table
    rennes = next(m for m in circulars if m.rcpt_tos == ["prefecture-35@prefectures.example.fr"])
    assert "REG-53" in [row["code"] for row in csv_rows(rennes)]
    assert {row["état"] for row in csv_rows(rennes)} == {"fiche pas encore envoyée"}


# --- messages without a token --------------------------------------------------------------------------------

def forwarded(circular, note: str) -> str:
    return f"{note}\n\n-------- Message transféré --------\nDe : Préfecture\nObjet : circulaire\n\n{text_of(circular)}"


def test_a_forwarded_circular_from_a_known_contact_yields_their_summary(loop):
    circular = loop.circulars()["prefecture-35@prefectures.example.fr"]
    agent = contact_of(loop.sessions, "COM-35085")
    before = loop.send(agent, forwarded(circular, "Bonjour, voici la circulaire reçue de la préfecture."),
                       subject="TR: [Atlas 2012] Circulaire")
    summary = loop.answer_to(agent, before)
    message = parse(summary.content)
    assert "Mise à jour de la fiche de Combourg (COM-35085)" in message["Subject"]
    assert message["In-Reply-To"] and message["Auto-Submitted"] == "auto-replied"
    body = text_of(summary)
    assert "#### DÉBUT DU FORMULAIRE ATLAS" in body and agent in body  # a known contact sees the addresses


def test_mail_without_a_token_goes_to_the_newest_open_campaign_never_to_a_closed_one(loop):
    """A newer campaign (a test one), once closed, no longer receives the mail that carries no token."""
    loop.cli("campaign", "create", "essai", "--deadline", "2099-01-31")
    assert "close" in loop.cli("campaign", "close", "essai")
    agent = contact_of(loop.sessions, "COM-35085")
    before = loop.send(agent, "Bonjour,\nJe souhaite mettre à jour notre fiche de l'Atlas.\nCordialement")
    summary = parse(loop.answer_to(agent, before).content)
    message_id = str(summary["Message-ID"])
    with loop.sessions() as session:
        campaign_id = session.scalar(select(OutboundMessage.campaign_id).where(
            OutboundMessage.message_id.in_([message_id, message_id.strip("<>")])))
        assert session.get(Campaign, campaign_id).name == "c2012"


def test_a_stranger_naming_a_commune_and_its_postcode_gets_the_masked_summary_and_is_proposed(loop):
    known = contact_of(loop.sessions, "COM-35085")
    stranger = "claire.moreau@combourg-mairie.fr"
    before = loop.send(stranger, "Bonjour,\nJe souhaite mettre à jour notre fiche de l'Atlas.\nCordialement,\n"
                                 "Claire Moreau\nService jumelages\nHôtel de ville\n35270 Combourg",
                       display="Claire Moreau")
    summary = loop.answer_to(stranger, before)
    assert "Combourg (COM-35085)" in parse(summary.content)["Subject"]
    body = text_of(summary)
    assert known not in body and mask_address(known) in body  # privacy: masked for a stranger

    def proposal():
        with loop.sessions() as session:
            return session.scalar(select(ChangeSet).where(ChangeSet.sender == stranger))
    changeset = _wait(proposal)
    with loop.sessions() as session:
        changeset = session.get(ChangeSet, changeset.id)
        [change] = changeset.changes
        coll = session.get(Collectivite, changeset.collectivite_id)
        assert (coll.code, changeset.status, changeset.trusted) == ("COM-35085", "pending", False)
        assert (change.op, change.entity) == ("create", "contact")
        assert change.new == {"first_name": "Claire", "last_name": "Moreau", "title": "", "email": stranger}


def test_a_strangers_reply_to_the_masked_summary_changes_only_what_they_edited(loop):
    """The masked addresses they were shown, sent back untouched, are no change (nor an error)."""
    stranger = "claire.moreau@combourg-mairie.fr"
    before = loop.send(stranger, "Bonjour,\nMise à jour de l'Atlas pour la commune de Combourg (35270).\n"
                                 "Claire Moreau", display="Claire Moreau")
    received = loop.answer_to(stranger, before)
    with loop.sessions() as session:
        contact = session.scalars(select(Contact).join(Collectivite, Contact.collectivite_id == Collectivite.id)
                                  .where(Collectivite.code == "COM-35085", Contact.email.is_not(None))).first()
        ref, email = contact.ref, contact.email
    assert mask_address(email) in text_of(received)

    reply = client_shapes.gmail(received.content, client_shapes.set_field(ref, "Titre", "Adjointe aux jumelages"), stranger)
    loop.send_raw(stranger, reply)

    def answered():
        with loop.sessions() as session:
            return session.scalar(select(ChangeSet.id).join(ChangeSet.changes)
                                  .where(ChangeSet.sender == stranger, Change.op == "update"))
    changeset_id = _wait(answered)
    with loop.sessions() as session:
        changeset = session.get(ChangeSet, changeset_id)
        assert [(c.op, c.ref, c.field, c.old, c.new, c.errors) for c in changeset.changes] == [
            ("update", ref, "title", contact.title, "Adjointe aux jumelages", [])]
        assert changeset.trusted is False and session.get(Contact, contact.id).email == email


def _candidates(question) -> list[str]:
    return [line.strip() for line in text_of(question).splitlines() if line.strip()[:2] in {f"{n}." for n in range(1, 10)}]


def test_an_ambiguous_name_gets_a_question_and_the_answer_settles_it(loop):
    stranger = "accueil@saintmartin-village.fr"
    before = loop.send(stranger, "Bonjour,\nje souhaite mettre à jour notre fiche.\n\nMairie de Saint-Martin",
                       subject="Mise à jour de notre fiche")
    question = loop.answer_to(stranger, before)
    candidates = _candidates(question)
    assert 2 <= len(candidates) <= 5 and all("Saint-Martin" in line for line in candidates)
    chosen_code = candidates[1].rsplit(", ", 1)[1]
    quoted = "\n".join(f"> {line}" for line in text_of(question).splitlines())
    before = loop.send(stranger, f"2\n\nLe 3 sept. 2012, {BOT} a écrit :\n{quoted}",
                       subject=f"Re: {parse(question.content)['Subject']}",
                       in_reply_to=parse(question.content)["Message-ID"])
    summary = loop.answer_to(stranger, before)
    assert f"Saint-Martin ({chosen_code})" in parse(summary.content)["Subject"]


def test_a_reply_to_a_circular_is_read_within_that_prefectures_territory(loop):
    circular = loop.circulars()["prefecture-67@prefectures.example.fr"]
    stranger = "secretariat@mairie-stmartin67.fr"
    before = loop.send(stranger, "Bonjour,\nMerci, nous voulons mettre à jour notre fiche.\nMairie de Saint-Martin",
                       subject="Re: circulaire", in_reply_to=parse(circular.content)["Message-ID"])
    summary = loop.answer_to(stranger, before)
    assert "Saint-Martin (COM-67426)" in parse(summary.content)["Subject"]


def test_an_unidentifiable_message_gets_a_request_for_the_name_or_siren(loop):
    stranger = "agent@exemple-collectivite.fr"
    before = loop.send(stranger, "Bonjour,\nje souhaite mettre à jour notre fiche.\nMerci")
    request = loop.answer_to(stranger, before)
    body = text_of(request)
    assert "SIREN" in body and "nom de votre collectivité" in body
    assert parse(request.content)["Auto-Submitted"] == "auto-replied"
    # and the answer to that request is read like any message
    before = loop.send(stranger, "Commune de Gaël (35)", in_reply_to=parse(request.content)["Message-ID"])
    assert "Gaël (COM-35117)" in parse(loop.answer_to(stranger, before).content)["Subject"]


# --- the territory report -----------------------------------------------------------------------------------

def test_the_report_matches_the_campaign_status_and_lists_the_unreachable(loop):
    refused = contact_of(loop.sessions, "COM-69266")
    with loop.sessions() as session:
        villeurbanne = session.scalars(select(Contact.email).join(Collectivite).where(
            Collectivite.code == "COM-69266", Contact.email.is_not(None))).all()
    for address in villeurbanne:
        loop.sink.refuse(address, "550 5.1.1 Adresse inconnue")
    render_campaign(loop.engine, loop.sessions, loop.config, "c2012")
    deliver_pending(loop.engine, loop.config)
    loop.send("claire.moreau@combourg-mairie.fr", "Commune de Combourg\n35270 Combourg")  # a pending proposal
    def proposed():
        with loop.sessions() as session:
            return session.scalar(select(ChangeSet.id))
    _wait(proposed)
    report = json.loads(loop.cli("prefectures", "report", "c2012", "--json"))
    with loop.sessions() as session:
        campaign = get_campaign(session, "c2012")
        status = campaign_status(session, campaign, by="departement")
        region = [s for s in target_states(session, campaign) if s["code"] == "REG-53"]
        national = campaign_status(session, campaign)["France"]
    by_dep = {item["departement"]: item for item in report}
    for dep, counts in status.items():
        if dep == "?":
            continue
        expected = dict(counts)
        if dep == "35":  # the préfecture de région also has the région
            for column in expected:
                expected[column] += len(region) if column == "collectivites" else sum(bool(s[column]) for s in region)
        assert by_dep[dep]["figures"] == expected
    assert {column: sum(item["figures"][column] for item in report) for column in national} == national
    assert by_dep["35"]["figures"]["pending_review"] >= 1
    unreachable = {item["code"]: item for item in by_dep["29"]["unreachable"]}
    assert "COM-29232" in unreachable and unreachable["COM-29232"]["incident"]
    lyon = {item["code"]: item for item in by_dep["69"]["unreachable"]}
    assert "COM-69266" in lyon and mask_address(refused) in lyon["COM-69266"]["contacts"][0]["text"]

    before = len(loop.sink.messages)
    # "N sent" counts what the command delivered; the server's delivery worker may take some of them
    assert f"{len(report)} rapports préparés, " in loop.cli("prefectures", "report", "c2012", "--send")

    def all_reports():
        found = {m.rcpt_tos[0]: m for m in loop.sink.messages[before:]
                 if "État d'avancement" in parse(m.content)["Subject"]}
        return found if len(found) >= len(report) else None
    reports = _wait(all_reports)
    assert len(reports) == len(report)
    finistere = reports["prefecture-29@prefectures.example.fr"]
    assert "Quimper (commune, COM-29232" in text_of(finistere) and "ne parvenons pas à joindre" in text_of(finistere)
    rows = {row["code"]: row for row in csv_rows(reports["prefecture-69@prefectures.example.fr"])}
    assert rows["COM-69266"]["injoignable"] == "oui" and refused not in rows["COM-69266"]["contacts connus"]
