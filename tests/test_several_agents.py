"""Several agents of one collectivité answer the same form, through `mailbot serve` over SMTP (#15,
point 3): a colleague's reply never supersedes another's; their changes to the same field are shown
as competing; a later reply of the same sender supersedes only that sender's earlier set, which
stays reachable; approving one competitor puts the other in conflict, saying why."""
from __future__ import annotations

import json
import smtplib

from click.testing import CliRunner

from mailbot.cli.commands import main
from mailbot.devtools.client_shapes import set_field
from mailbot.outbound.campaign import render_campaign
from mailbot.outbound.delivery import deliver_pending
from tests import replies
from tests.review_support import REVIEWERS
from tests.test_understand_e2e import _wait, loop, parse, wire  # noqa: F401  (the running server)


def _cli(config, *args) -> str:
    result = CliRunner().invoke(main, list(args), env={"MAILBOT_DB": config.db, **REVIEWERS})
    assert result.exit_code == 0, result.output
    return result.output


def _sets(config, *args) -> list[dict]:
    return json.loads(_cli(config, "review", "list", "--status", "all", "--json", *args))


def _reply(port, summary, sender: str, edit, *, again: bool = False) -> None:
    raw = replies.gmail(summary.content, edit, sender)
    if again:  # another message of the same sender: its own Message-ID
        raw = raw.replace(b"<reply-", b"<reply-again-")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail(sender, [str(parse(summary.content)["Reply-To"])], wire(raw))


def test_colleagues_compete_and_only_the_same_sender_supersedes(loop):
    config, sink, port, sessions, engine = loop
    render_campaign(engine, sessions, config, "c2012", limit=30)
    deliver_pending(engine, config)
    summary = next(m for m in sink.messages if len(m.rcpt_tos) >= 2)  # a form sent to two contacts
    text = parse(summary.content).get_body(("plain",)).get_content()
    contact = next(line.split()[1] for line in text.splitlines() if line.startswith("#### CT-"))
    marie, paul = summary.rcpt_tos[:2]

    _reply(port, summary, marie, set_field(contact, "Titre", "Maire adjointe"))
    [first] = _wait(lambda: _sets(config) or None)
    _reply(port, summary, paul, set_field(contact, "Titre", "Première adjointe"))
    both = _wait(lambda: (rows := _sets(config)) and len(rows) == 2 and rows)
    assert [row["status"] for row in both] == ["pending", "pending"]  # a colleague's reply replaces nothing
    colleague = both[1]["id"]
    assert sorted(row["id"] for row in _sets(config, "--with-competing")) == [first["id"], colleague]
    shown = json.loads(_cli(config, "review", "show", str(first["id"]), "--json"))
    [rival] = shown["changes"][0]["competing"]
    assert (rival["changeset"], rival["sender"], rival["new"]) == (colleague, paul, "Première adjointe")
    assert shown["competing"] == [colleague]
    assert "EN CONCURRENCE" in _cli(config, "review", "show", str(colleague))

    _reply(port, summary, marie, set_field(contact, "Titre", "Maire adjointe déléguée"), again=True)
    rows = _wait(lambda: (rows := _sets(config)) and len(rows) == 3 and rows)
    latest = rows[2]["id"]
    assert [(row["id"], row["status"]) for row in rows] == [
        (first["id"], "superseded"), (colleague, "pending"), (latest, "pending")]  # only Marie's own earlier set
    assert [row["id"] for row in _sets(config, "--status", "superseded")] == [first["id"]]  # still reachable
    assert json.loads(_cli(config, "review", "show", str(first["id"]), "--json"))["superseded_by"] == latest
    assert json.loads(_cli(config, "review", "show", str(latest), "--json"))["supersedes"] == [first["id"]]
    assert f"Remplacé par l'ensemble n° {latest}" in _cli(config, "review", "show", str(first["id"]))
    assert f"Remplace l'ensemble n° {first['id']}" in _cli(config, "review", "show", str(latest))
    refused = CliRunner().invoke(main, ["review", "approve", str(first["id"]), "--as", "Claire Martin", "--no-send"],
                                 env={"MAILBOT_DB": config.db, **REVIEWERS})
    assert refused.exit_code == 1 and f"remplacé par l'ensemble n° {latest}" in refused.output

    # the bulk form does not choose between two agents
    bulk = _cli(config, "review", "approve", "--all-trusted-without-errors", "--dry-run", "--as", "Claire Martin")
    assert bulk.startswith("0 ensemble(s)")
    _cli(config, "review", "approve", str(latest), "--as", "Claire Martin", "--no-send")
    outdated = json.loads(_cli(config, "review", "show", str(colleague), "--json"))
    change = outdated["changes"][0]
    assert (change["status"], change["current"], change["new"]) == ("conflict", "Maire adjointe déléguée",
                                                                      "Première adjointe")
    assert f"ensemble n° {latest}" in change["reason"] and outdated["has_conflicts"]
    assert "CONFLIT" in _cli(config, "review", "show", str(colleague))
