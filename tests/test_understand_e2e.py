"""End to end: a summary sent by the campaign, edited as an agent would, sent back through SMTP to the
running server, appears in `review list --json` with exactly the expected changes, and the agent
receives the acknowledgement."""
from __future__ import annotations

import json
import smtplib
import threading
from datetime import date
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailbot.outbound.campaign import create_campaign, render_campaign
from mailbot.cli.commands import main
from mailbot.clock import smtp_listening, wait_for
from mailbot.config import load_config
from mailbot.outbound.delivery import deliver_pending
from mailbot.review.decide import approve
from mailbot.serve import run_serve
from mailbot.devtools.sink import free_port, start_sink
from store.campaign_models import CampaignTarget
from store.inbound_models import InboundMessage
from store.models import Collectivite, Contact
from store.review_models import Change
from tests import replies
from mailbot.devtools.client_shapes import set_field as _set

RULES = Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml"


def wire(raw: bytes) -> bytes:
    """smtplib sends bytes as they are: SMTP wants CRLF line ends."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


@pytest.fixture
def loop(seeded_db_url, seeded_sessions, seeded_engine):
    """A running `serve` (listener, workers, delivery) whose relay is a local sink."""
    controller, sink = start_sink()
    port = free_port()
    config = load_config(environ={
        "MAILBOT_DB": seeded_db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
        "MAILBOT_LISTEN": f"127.0.0.1:{port}", "MAILBOT_SECRET": "e2e", "MAILBOT_FROM": "atlas@cncd.example.fr",
    })
    with seeded_sessions.begin() as session:
        create_campaign(session, "c2012", RULES, date(2012, 6, 30))
    stop = threading.Event()
    thread = threading.Thread(target=run_serve, args=(config,), kwargs={"stop_event": stop}, daemon=True)
    thread.start()
    _wait_port(port)
    yield config, sink, port, seeded_sessions, seeded_engine
    stop.set()
    thread.join(timeout=30)
    controller.stop()


def _wait_port(port: int, seconds: float = 20) -> None:
    wait_for(lambda: smtp_listening(port), seconds)


def _wait(predicate, seconds: float = 30):
    return wait_for(predicate, seconds)


def _first_summary_with_projects(sink):
    for message in sink.messages:
        if b"#### PJ-" in message.content:
            return message
    raise AssertionError("no summary with a project")


def test_edited_summary_becomes_a_pending_change_set_and_an_acknowledgement(loop):
    config, sink, port, sessions, engine = loop
    render_campaign(engine, sessions, config, "c2012", limit=10)
    _wait(lambda: len(sink.messages) >= 10 or deliver_pending(engine, config).attempted == 0 and sink.messages)
    summary = _first_summary_with_projects(sink)
    text = parse(summary.content).get_body(("plain",)).get_content()
    contact_ref = next(line.split()[1] for line in text.splitlines() if line.startswith("#### CT-"))
    project_ref = next(line.split()[1] for line in text.splitlines() if line.startswith("#### PJ-"))
    agent = summary.rcpt_tos[0]
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"#### {project_ref} ")))
    current = next(line for line in lines[start:] if line.startswith("Statut"))
    status_label, status_code = ("en cours", "en_cours") if "sommeil" in current else ("en sommeil", "en_sommeil")
    edit = lambda lines: _set(project_ref, "Statut", status_label)(_set(contact_ref, "Titre", "Maire adjointe")(lines))
    reply = replies.gmail(summary.content, edit, agent)
    before = len(sink.messages)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(agent, [str(parse(summary.content)["Reply-To"])], wire(reply))

    def processed():
        with sessions() as session:
            return session.scalar(select(InboundMessage.parse_state).where(InboundMessage.parse_state == "parsed"))
    _wait(processed)
    result = CliRunner().invoke(main, ["review", "list", "--json"], env={"MAILBOT_DB": config.db})
    assert result.exit_code == 0, result.output
    [changeset] = json.loads(result.output)
    assert changeset["sender"] == agent and changeset["trusted"] is True and changeset["status"] == "pending"
    got = {(c["op"], c["entity"], c["ref"], c["field"], c["new"]) for c in changeset["changes"]}
    assert got == {("update", "contact", contact_ref, "title", "Maire adjointe"),
                   ("update", "projet", project_ref, "status", status_code)}
    assert all(c["errors"] == [] for c in changeset["changes"])
    ack = _wait(lambda: next((m for m in sink.messages[before:] if m.rcpt_tos == [agent]), None))
    ack_message = parse(ack.content)
    assert ack_message["In-Reply-To"] and ack_message["Auto-Submitted"] == "auto-replied"
    ack_text = ack_message.get_body(("plain",)).get_content()
    assert "Titre" in ack_text and "→ Maire adjointe" in ack_text
    with sessions() as session:
        code = changeset["collectivite"]
        target = session.scalar(select(CampaignTarget).join(Collectivite, CampaignTarget.collectivite_id == Collectivite.id)
                                .where(Collectivite.code == code))
        assert target.replied_at is not None and target.confirmed_at is None


def test_untouched_form_or_ras_is_a_confirmation(loop):
    config, sink, port, sessions, engine = loop
    render_campaign(engine, sessions, config, "c2012", limit=2)
    _wait(lambda: len(sink.messages) >= 2 or deliver_pending(engine, config).attempted == 0 and sink.messages)
    first = sink.messages[0]
    second = next(m for m in sink.messages[1:] if parse(m.content)["Subject"] != parse(first.content)["Subject"])
    before = len(sink.messages)
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(first.rcpt_tos[0], [str(parse(first.content)["Reply-To"])],
                      wire(replies.gmail(first.content, lambda lines: lines, first.rcpt_tos[0],
                                         note="Bonjour,\n\nCordialement,\nMarie Dupont")))
        smtp.sendmail(second.rcpt_tos[0], [str(parse(second.content)["Reply-To"])],
                      wire(replies.plain_answer(second.content, "RAS, cordialement", second.rcpt_tos[0])))

    def confirmed():
        with sessions() as session:
            return session.scalar(select(CampaignTarget.id).where(CampaignTarget.confirmed_at.is_not(None))
                                  .offset(1).limit(1))
    _wait(confirmed)
    acks = _wait(lambda: [m for m in sink.messages[before:]] if len(sink.messages) - before >= 2 else None)
    for ack in acks:
        assert "Aucune modification : votre fiche est confirmée" in parse(ack.content).get_body(("plain",)).get_content()
    result = CliRunner().invoke(main, ["review", "list", "--json"], env={"MAILBOT_DB": config.db})
    assert json.loads(result.output) == []


def test_a_later_reply_on_the_same_form_replaces_the_pending_set(loop):
    config, sink, port, sessions, engine = loop
    render_campaign(engine, sessions, config, "c2012", limit=1)
    deliver_pending(engine, config)
    summary = sink.messages[0]
    text = parse(summary.content).get_body(("plain",)).get_content()
    contact_ref = next(line.split()[1] for line in text.splitlines() if line.startswith("#### CT-"))
    agent = summary.rcpt_tos[0]
    reply_to = str(parse(summary.content)["Reply-To"])
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(agent, [reply_to], wire(replies.gmail(summary.content, _set(contact_ref, "Titre", "Maire"), agent)))
    _wait(lambda: json.loads(CliRunner().invoke(main, ["review", "list", "--json"], env={"MAILBOT_DB": config.db}).output))
    second = replies.gmail(summary.content, _set(contact_ref, "Titre", "Premier adjoint"), agent).replace(
        b"<reply-", b"<reply-again-")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(agent, [reply_to], wire(second))

    def replaced():
        rows = json.loads(CliRunner().invoke(main, ["review", "list", "--status", "all", "--json"],
                                             env={"MAILBOT_DB": config.db}).output)
        return rows if len(rows) == 2 else None
    first_set, second_set = sorted(_wait(replaced), key=lambda row: row["id"])
    assert first_set["status"] == "superseded" and second_set["status"] == "pending"
    assert second_set["changes"][0]["new"] == "Premier adjoint"


def test_a_reply_is_compared_with_what_its_message_showed_not_with_todays_store(loop):
    """Between the summary and the reply, someone changes the record: the untouched blocks are still no
    change, the edited field's « before » is what the agent saw, and approving finds the conflict."""
    config, sink, port, sessions, engine = loop
    render_campaign(engine, sessions, config, "c2012", limit=1)
    deliver_pending(engine, config)
    summary = sink.messages[0]
    lines = _text_of(summary)
    first, second = [line.split()[1] for line in lines if line.startswith("#### CT-")][:2]
    shown = next(line for line in _first_block(lines, first) if line.startswith("Titre")).split(":", 1)[1].strip()
    with sessions.begin() as session:
        for ref, title in ((first, "Conseillère déléguée"), (second, "Directrice générale")):
            session.scalar(select(Contact).where(Contact.ref == ref)).title = title
    agent = summary.rcpt_tos[0]
    _send_and_wait(sessions, port, agent, str(parse(summary.content)["Reply-To"]),
                   replies.gmail(summary.content, _set(first, "Titre", "Maire adjointe"), agent))
    [changeset] = _wait(lambda: _review_list(config))
    assert [(c["ref"], c["field"], c["old"], c["new"]) for c in changeset["changes"]] == [
        (first, "title", shown, "Maire adjointe")]  # nothing for `second`, changed in the store, untouched here
    approve(sessions, config, changeset["id"], "Paul Durand")
    with sessions() as session:
        [change] = session.scalars(select(Change).where(Change.changeset_id == changeset["id"])).all()
        assert (change.status, change.current) == ("conflict", "Conseillère déléguée")
        assert session.scalar(select(Contact.title).where(Contact.ref == first)) == "Conseillère déléguée"


# --- several forms in one message ----------------------------------------------------------------------------

def _two_summaries(sink):
    """Two summaries sent to two different collectivités, each with a contact block."""
    first = sink.messages[0]
    second = next(m for m in sink.messages[1:] if parse(m.content)["Subject"] != parse(first.content)["Subject"])
    return first, second


def _text_of(summary) -> list[str]:
    return parse(summary.content).get_body(("plain",)).get_content().splitlines()


def _first_block(lines: list[str], prefix: str) -> list[str]:
    """A block as printed: its marker line and the lines up to the next marker or section."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"#### {prefix}"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("####", "====")))
    return lines[start:end]


def _review_list(config) -> list[dict]:
    result = CliRunner().invoke(main, ["review", "list", "--json"], env={"MAILBOT_DB": config.db})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _send_and_wait(sessions, port, agent: str, to: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(agent, [to], wire(raw))

    def done():
        with sessions() as session:
            return session.scalar(select(InboundMessage.state).where(InboundMessage.state == "done"))
    _wait(done)


def _outbound_acks(sessions) -> int:
    from store.campaign_models import OutboundMessage

    with sessions() as session:
        return len(session.scalars(select(OutboundMessage.id).where(OutboundMessage.kind == "ack")).all())


def test_two_edited_forms_of_two_collectivites_become_two_change_sets_and_one_acknowledgement(loop):
    """Trust is per collectivité: the agent is a known contact of A only, so A's set is trusted and
    B's is not (its token proves which form was answered, not who answered)."""
    config, sink, port, sessions, engine = loop
    render_campaign(engine, sessions, config, "c2012", limit=4)
    _wait(lambda: len(sink.messages) >= 4 or deliver_pending(engine, config).attempted == 0 and sink.messages)
    summary_a, summary_b = _two_summaries(sink)
    ref_a = _first_block(_text_of(summary_a), "CT-")[0].split()[1]
    ref_b = _first_block(_text_of(summary_b), "CT-")[0].split()[1]
    agent = summary_a.rcpt_tos[0]
    reply = replies.two_forms(summary_a.content, summary_b.content, _set(ref_a, "Titre", "Chargée de mission Atlas"),
                              _set(ref_b, "Titre", "Directeur des relations internationales"), agent)
    before = len(sink.messages)
    _send_and_wait(sessions, port, agent, str(parse(summary_a.content)["Reply-To"]), reply)

    sets = {row["collectivite"]: row for row in _review_list(config)}
    code_a, code_b = (parse(s.content)["Subject"].rsplit("(", 1)[1].rstrip(")") for s in (summary_a, summary_b))
    assert set(sets) == {code_a, code_b}
    got = {code: {(c["op"], c["entity"], c["ref"], c["field"], c["new"], tuple(c["errors"])) for c in row["changes"]}
           for code, row in sets.items()}
    assert got == {code_a: {("update", "contact", ref_a, "title", "Chargée de mission Atlas", ())},
                   code_b: {("update", "contact", ref_b, "title", "Directeur des relations internationales", ())}}
    assert (sets[code_a]["trusted"], sets[code_b]["trusted"]) == (True, False)
    assert sets[code_a]["sender"] == sets[code_b]["sender"] == agent
    with sessions() as session:
        replied = session.execute(select(Collectivite.code, CampaignTarget.replied_at)
                                  .join(Collectivite, CampaignTarget.collectivite_id == Collectivite.id)
                                  .where(Collectivite.code.in_([code_a, code_b]))).all()
        assert {code for code, at in replied if at is not None} == {code_a, code_b}
        row = session.scalar(select(InboundMessage).where(InboundMessage.state == "done"))
        assert (row.kind, row.trusted, row.flag) == ("reply", False, "expéditeur non reconnu")
    assert _outbound_acks(sessions) == 1, "one acknowledgement for the whole message"
    ack = _wait(lambda: next((m for m in sink.messages[before:] if m.rcpt_tos == [agent]), None))
    text = parse(ack.content).get_body(("plain",)).get_content()
    assert f"({code_a}) ==" in text and f"({code_b}) ==" in text
    assert "→ Chargée de mission Atlas" in text and "→ Directeur des relations internationales" in text
    assert "n'est pas encore connue comme contact de" in text.split(f"({code_b}) ==")[1]


def test_a_token_ties_only_its_own_form_block(loop):
    """A's valid form carries a block of B pasted into it, B's block is pasted again between the forms,
    and B's form comes with a forged token: only A's own edit is understood; B changes in no way, and
    the acknowledgement explains the block and the form it did not take."""
    config, sink, port, sessions, engine = loop
    render_campaign(engine, sessions, config, "c2012", limit=4)
    _wait(lambda: len(sink.messages) >= 4 or deliver_pending(engine, config).attempted == 0 and sink.messages)
    summary_a, summary_b = _two_summaries(sink)
    lines_a, lines_b = _text_of(summary_a), _text_of(summary_b)
    ref_a = _first_block(lines_a, "CT-")[0].split()[1]
    block_b = _first_block(lines_b, "CT-")
    ref_b = block_b[0].split()[1]
    pirate_b = _set(ref_b, "Titre", "Pirate")(block_b)
    form_a = _set(ref_a, "Titre", "Chargée de mission Atlas")(lines_a)
    end_a = next(i for i, line in enumerate(form_a) if line.startswith("#### FIN DU FORMULAIRE ATLAS"))
    form_a = form_a[:end_a] + pirate_b + form_a[end_a:]
    opening_b = next(i for i, line in enumerate(lines_b) if line.startswith("#### DÉBUT DU FORMULAIRE ATLAS"))
    token_b = lines_b[opening_b].split()[5]
    forged = lines_b[opening_b].replace(token_b, token_b[:-1] + ("a" if token_b[-1] != "a" else "b"))
    form_b = _set(ref_b, "Titre", "Pirate")(lines_b[:opening_b] + [forged] + lines_b[opening_b + 1:])
    agent = summary_a.rcpt_tos[0]
    original_a = parse(summary_a.content)
    from email.message import EmailMessage

    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = agent, str(original_a["Reply-To"]), "RE: " + str(original_a["Subject"])
    reply["In-Reply-To"] = reply["References"] = str(original_a["Message-ID"])
    reply["Message-ID"] = "<forged-b@client.example>"
    reply.set_content("\n".join(form_a + [""] + pirate_b + [""] + form_b) + "\n")
    before = len(sink.messages)
    _send_and_wait(sessions, port, agent, str(original_a["Reply-To"]), reply.as_bytes())

    [changeset] = _review_list(config)
    assert changeset["collectivite"] == original_a["Subject"].rsplit("(", 1)[1].rstrip(")")
    assert [(c["ref"], c["field"], c["new"]) for c in changeset["changes"]] == [(ref_a, "title", "Chargée de mission Atlas")]
    code_b = parse(summary_b.content)["Subject"].rsplit("(", 1)[1].rstrip(")")
    with sessions() as session:
        target_b = session.scalar(select(CampaignTarget).join(Collectivite, CampaignTarget.collectivite_id == Collectivite.id)
                                  .where(Collectivite.code == code_b))
        assert (target_b.replied_at, target_b.confirmed_at) == (None, None)
    assert _outbound_acks(sessions) == 1
    ack = _wait(lambda: next((m for m in sink.messages[before:] if m.rcpt_tos == [agent]), None))
    text = parse(ack.content).get_body(("plain",)).get_content()
    assert f"La référence {ref_b} ne correspond à aucune fiche" in text
    assert "référence invalide ou périmée" in text and "Pirate" not in text.split("Nous n'avons pas pu")[0]
