"""End to end through `mailbot serve` over SMTP: agents answering our acknowledgements, decision notices
and reviewers' answers (Outlook, Gmail, Thunderbird shapes), reviewers answering them, the history of
the conversation; and files sent with replies (a PDF from Thunderbird, an iPhone photo, an executable
renamed .pdf from Outlook)."""
from __future__ import annotations

import json
import os
import smtplib

from click.testing import CliRunner
from sqlalchemy import select

from mailbot.outbound.campaign import campaign_status, get_campaign, render_campaign
from mailbot.cli.commands import main
from mailbot.devtools.client_shapes import set_field
from mailbot.outbound.delivery import deliver_pending
from store.campaign_models import OutboundMessage
from store.inbound_models import InboundMessage
from store.models import ApdAmount, Collectivite
from tests import replies
from tests.test_understand_e2e import _wait, loop, parse, wire  # noqa: F401  (the running server)
from tests.thread_replies import (
    gmail_reply,
    iphone_with_image,
    outlook_form_with_file,
    outlook_reply,
    thunderbird_form_with_file,
)

REVIEWERS = {"MAILBOT_REVIEWERS": "Claire Martin, Paul Durand"}
PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >>"
       b" endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + os.urandom(2000)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + os.urandom(60 * 1024) + b"\xff\xd9"


def cli(config, *args: str):
    result = CliRunner().invoke(main, list(args), env={"MAILBOT_DB": config.db, "MAILBOT_SMTP": config.smtp,
                                                       "MAILBOT_SECRET": config.secret, **REVIEWERS})
    assert result.exit_code == 0, result.output
    return result.output


def review_rows(config, *args: str) -> list[dict]:
    return json.loads(cli(config, "review", "list", "--json", "--status", "all", *args))


def send(port: int, sender: str, to: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(sender, [to], wire(raw))


def settled(sessions, count: int) -> None:
    """`count` inbound messages handled by the workers."""
    def done():
        with sessions() as session:
            states = session.scalars(select(InboundMessage.state)).all()
            return len(states) >= count and all(s in ("done", "error") for s in states)
    _wait(done)


def to_agent(sink, agent: str, after: int, predicate=lambda m: True):
    return _wait(lambda: next((m for m in sink.messages[after:] if m.rcpt_tos == [agent] and predicate(m)), None))


def text_of(message) -> str:
    return parse(message.content).get_body(("plain",)).get_content()


def first_summary(config, sink, engine, sessions):
    render_campaign(engine, sessions, config, "c2012", limit=1)
    deliver_pending(engine, config)
    summary = sink.messages[0]
    lines = text_of(summary).splitlines()
    contact_ref = next(line.split()[1] for line in lines if line.startswith("#### CT-"))
    code = parse(summary.content)["Subject"].rsplit("(", 1)[1].rstrip(")")
    return summary, contact_ref, code


def edited_reply(port, sessions, sink, summary, contact_ref, title="Maire adjointe"):
    """The agent answers the summary with one change; returns the acknowledgement they received."""
    agent = summary.rcpt_tos[0]
    before = len(sink.messages)
    send(port, agent, str(parse(summary.content)["Reply-To"]),
         replies.gmail(summary.content, set_field(contact_ref, "Titre", title), agent))
    return to_agent(sink, agent, before)


# --- threads ---------------------------------------------------------------------------------------------

def test_an_outlook_reply_to_the_acknowledgement_is_a_message_to_read_and_erases_nothing(loop):
    config, sink, port, sessions, engine = loop
    summary, contact_ref, code = first_summary(config, sink, engine, sessions)
    agent = summary.rcpt_tos[0]
    ack = edited_reply(port, sessions, sink, summary, contact_ref)
    [changes] = _wait(lambda: review_rows(config))
    before = len(sink.messages)
    words = "Bonjour,\nPourriez-vous aussi corriger l'adresse postale de la mairie ? Elle a changé en janvier.\nCordialement"
    send(port, agent, str(parse(ack.content)["From"]),
         outlook_reply(ack.content, words, agent, "<AM0PR10MB2099.outlook-1@mairie.example.fr>"))
    settled(sessions, 2)

    rows = {row["id"]: row for row in review_rows(config)}
    assert rows[changes["id"]]["status"] == "pending", "the agent's change is still waiting for a reviewer"
    [message] = [row for row in rows.values() if row["set_kind"] == "message"]
    assert (message["status"], message["trusted"], message["collectivite"]) == ("pending", True, code)
    assert message["answers"] == changes["id"] and message["changes"] == []
    assert "adresse postale de la mairie" in message["note"]
    assert "Nous avons bien reçu" not in message["note"], "the agent's words, not the quoted acknowledgement"
    answer = to_agent(sink, agent, before)
    assert parse(answer.content)["In-Reply-To"] == "<AM0PR10MB2099.outlook-1@mairie.example.fr>"
    assert "Nous avons bien reçu votre message" in text_of(answer)
    assert all("DEBUT DU FORMULAIRE" not in text_of(m) for m in sink.messages[before:]), "no fresh form"
    listed = cli(config, "review", "list")
    assert "message à lire" in listed
    shown = cli(config, "review", "show", str(message["id"]))
    assert f"suite de l'ensemble n° {changes['id']}" in shown and "adresse postale" in shown
    with sessions() as session:
        row = session.scalar(select(InboundMessage).where(InboundMessage.message_id == "<AM0PR10MB2099.outlook-1@mairie.example.fr>"))
        assert (row.kind, row.trusted) == ("conversation", True)
    cli(config, "review", "approve", "--all-trusted-without-errors", "--as", "Paul Durand", "--no-send")
    rows = {row["id"]: row["status"] for row in review_rows(config)}
    assert (rows[changes["id"]], rows[message["id"]]) == ("approved", "pending"), "a person reads every message"


def test_gmail_reply_to_a_decision_reaches_a_reviewer_who_answers_in_the_thread(loop):
    config, sink, port, sessions, engine = loop
    summary, contact_ref, code = first_summary(config, sink, engine, sessions)
    agent = summary.rcpt_tos[0]
    edited_reply(port, sessions, sink, summary, contact_ref)
    [changes] = _wait(lambda: review_rows(config))
    before = len(sink.messages)
    cli(config, "review", "reject", str(changes["id"]), "--reason", "Titre non conforme à l'arrêté", "--as", "Paul Durand")
    notice = to_agent(sink, agent, before)
    assert "Titre non conforme" in text_of(notice)

    before = len(sink.messages)
    send(port, agent, str(parse(notice.content)["From"]),
         gmail_reply(notice.content, "Je ne suis pas d'accord : Mme Dupont est maire adjointe depuis le 5 mars.",
                     agent, "<CAF=gmail-decision-1@mail.gmail.com>"))
    settled(sessions, 2)
    [message] = review_rows(config, "--messages")
    assert message["answers"] == changes["id"] and "maire adjointe depuis le 5 mars" in message["note"]
    assert "Titre non conforme" not in message["note"], "the agent's words, not the quoted notice"
    to_agent(sink, agent, before)  # the acknowledgement

    before = len(sink.messages)
    out = cli(config, "review", "reply", str(message["id"]), "--as", "Claire Martin", "--message",
              "Bonjour,\n\nMerci de nous envoyer l'arrêté de nomination.\nBien cordialement")
    assert "envoyée" in out
    answer = to_agent(sink, agent, before)
    answer_message = parse(answer.content)
    assert answer_message["In-Reply-To"] == "<CAF=gmail-decision-1@mail.gmail.com>"
    assert "<CAF=gmail-decision-1@mail.gmail.com>" in answer_message["References"]
    assert answer_message["Auto-Submitted"] in (None, "no")
    body = text_of(answer)
    assert "Merci de nous envoyer l'arrêté de nomination." in body and "Claire Martin" in body
    [answered] = review_rows(config, "--messages")
    assert answered["status"] == "answered"

    before = len(sink.messages)
    send(port, agent, str(answer_message["From"]),
         outlook_reply(answer.content, "Voici l'arrêté, en pièce jointe du prochain message.", agent,
                       "<AM0PR10MB2099.outlook-2@mairie.example.fr>"))
    settled(sessions, 3)
    messages = sorted(review_rows(config, "--messages"), key=lambda row: row["id"])
    assert [(m["status"], m["answers"]) for m in messages] == [("answered", changes["id"]), ("pending", message["id"])]
    shown = cli(config, "review", "show", str(message["id"]))
    assert "Réponse de Claire Martin" in shown and "arrêté de nomination" in shown

    history = cli(config, "history", code).splitlines()
    order = [next(i for i, line in enumerate(history) if marker in line) for marker in (
        "← reçu de", "ensemble n° %d rejeté par Paul Durand" % changes["id"], "(décision)",
        "maire adjointe depuis le 5 mars", "→ Claire Martin a répondu", "Voici l'arrêté")]
    assert order == sorted(order), history
    entries = json.loads(cli(config, "history", code, "--json"))
    assert [e["type"] for e in entries].count("message_in") == 3
    with sessions() as session:
        campaign = get_campaign(session, "c2012")
        status = campaign_status(session, campaign)["France"]
    assert (status["replied"], status["pending_review"], status["approved"]) == (1, 1, 0)


def test_a_reply_to_the_acknowledgement_from_a_stranger_is_kept_flagged(loop):
    config, sink, port, sessions, engine = loop
    summary, contact_ref, code = first_summary(config, sink, engine, sessions)
    ack = edited_reply(port, sessions, sink, summary, contact_ref)
    send(port, "collegue@autre.example.org", str(parse(ack.content)["From"]),
         gmail_reply(ack.content, "Je remplace ma collègue pendant son congé.", "collegue@autre.example.org",
                     "<CAF=stranger@mail.gmail.com>"))
    settled(sessions, 2)
    [message] = review_rows(config, "--messages")
    assert (message["trusted"], message["sender"], message["collectivite"]) == (False, "collegue@autre.example.org", code)
    assert "collegue@autre.example.org (non reconnu)" in cli(config, "review", "list", "--messages")
    cli(config, "review", "approve", str(message["id"]), "--as", "Paul Durand")
    [read] = review_rows(config, "--messages")
    assert read["status"] == "read"
    with sessions() as session:
        assert session.scalars(select(OutboundMessage.kind).where(OutboundMessage.kind == "decision")).all() == [], \
            "a message read is no decision to notify"


# --- attachments -----------------------------------------------------------------------------------------

def test_a_pdf_sent_by_thunderbird_with_the_form_becomes_the_apd_document_once_approved(loop, tmp_path):
    config, sink, port, sessions, engine = loop
    summary, contact_ref, code = first_summary(config, sink, engine, sessions)
    agent = summary.rcpt_tos[0]
    name = "Délibération APD 2010.pdf"
    send(port, agent, str(parse(summary.content)["Reply-To"]),
         thunderbird_form_with_file(summary.content, lambda lines: lines, agent, "<tb-1@mairie.example.fr>",
                                    filename=name, data=PDF))
    ack = to_agent(sink, agent, 1)
    assert f"{name} (" in text_of(ack) and "proposé comme document joint à votre déclaration d'APD 2010" in text_of(ack)
    [row] = review_rows(config)
    [change] = row["changes"]
    assert (change["entity"], change["field"], change["new"]["name"]) == ("apd", "document_name", name)
    shown = cli(config, "review", "show", str(row["id"]))
    assert f"Pièce jointe [{change['new']['attachment_id']}] {name}" in shown

    saved = cli(config, "review", "attachment", str(change["new"]["attachment_id"]), "--save", str(tmp_path / "pj"))
    [written] = list((tmp_path / "pj").iterdir())
    assert written.read_bytes() == PDF and written.name.endswith(name) and str(written) in saved

    cli(config, "review", "approve", str(row["id"]), "--as", "Paul Durand", "--no-send")
    with sessions() as session:
        collectivite = session.scalar(select(Collectivite).where(Collectivite.code == code))
        apd = session.scalar(select(ApdAmount).where(ApdAmount.collectivite_id == collectivite.id, ApdAmount.year == 2010))
        assert (apd.document, apd.document_name, apd.document_type) == (PDF, name, "application/pdf")
    assert f"document joint : {name}" in cli(config, "show", code)


def test_an_iphone_photo_with_ras_is_listed_and_proposed(loop):
    config, sink, port, sessions, engine = loop
    summary, _, code = first_summary(config, sink, engine, sessions)
    agent = summary.rcpt_tos[0]
    send(port, agent, str(parse(summary.content)["Reply-To"]),
         iphone_with_image(summary.content, "RAS", agent, "<iphone-1@icloud.example.com>", jpeg=JPEG))
    ack = text_of(to_agent(sink, agent, 1))
    assert "IMG_0412.jpeg (" in ack and "APD 2010" in ack
    [row] = review_rows(config)
    assert [(c["field"], c["new"]["name"], c["new"]["content_type"]) for c in row["changes"]] == [
        ("document_name", "IMG_0412.jpeg", "image/jpeg")]


def test_an_executable_renamed_pdf_is_kept_flagged_never_proposed_and_saved_only_on_demand(loop, tmp_path):
    config, sink, port, sessions, engine = loop
    summary, contact_ref, code = first_summary(config, sink, engine, sessions)
    agent = summary.rcpt_tos[0]
    send(port, agent, str(parse(summary.content)["Reply-To"]),
         outlook_form_with_file(summary.content, set_field(contact_ref, "Titre", "Maire adjointe"), agent,
                                "<AM0PR10MB2099.outlook-3@mairie.example.fr>", filename="../../Rapport 2010.pdf", data=EXE))
    ack = text_of(to_agent(sink, agent, 1))
    assert "Rapport 2010.pdf" in ack and "sans être ouvert" in ack and "programme Windows" in ack
    [row] = review_rows(config)
    assert [c["field"] for c in row["changes"]] == ["title"], "never proposed as the APD document"
    shown = cli(config, "review", "show", str(row["id"]))
    assert "DANGEREUSE : contenu exécutable : programme Windows" in shown
    [attachment_id] = [int(line.split("[")[1].split("]")[0]) for line in shown.splitlines() if "Pièce jointe [" in line]
    refused = CliRunner().invoke(main, ["review", "attachment", str(attachment_id), "--save", str(tmp_path / "out")],
                                 env={"MAILBOT_DB": config.db})
    assert refused.exit_code == 1 and "dangereuse" in refused.output
    cli(config, "review", "attachment", str(attachment_id), "--save", str(tmp_path / "out"), "--force")
    [written] = list((tmp_path / "out").iterdir())
    assert written.parent == tmp_path / "out" and written.name == f"{attachment_id}-Rapport 2010.pdf.dangereux"
    assert written.read_bytes() == EXE
