"""The review commands as reviewers type them: queue filters and pages, show (text, JSON, raw),
decisions by a named reviewer, the bulk form and its dry run, history, the digest sent by mail."""
from __future__ import annotations

import json
from email import policy
from email.parser import BytesParser

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailbot.cli.commands import main
from mailbot.devtools.sink import start_sink
from store.models import Contact
from store.review_models import ChangeSet
from tests.review_support import REVIEWERS, collectivite_with, contact_snapshot, make_set, update


@pytest.fixture
def queue(seeded_db_url, seeded_sessions):
    """Three pending sets: trusted and clean, from a stranger, with an error — in three collectivités."""
    error = {"field": "email", "code": "bad_email", "message": "Adresse invalide."}
    with seeded_sessions.begin() as session:
        a = collectivite_with(session)
        b = collectivite_with(session, skip={a.id})
        c = collectivite_with(session, skip={a.id, b.id})
        ids = {
            "clean": make_set(session, a, [update("contact", contact_snapshot(session, a.contacts[0].ref), "title",
                                                  "Maire adjointe")], note="Merci de corriger le titre."),
            "stranger": make_set(session, b, [update("contact", contact_snapshot(session, b.contacts[0].ref), "title",
                                                     "Directeur")], trusted=False, sender="inconnu@example.org"),
            "wrong": make_set(session, c, [update("contact", contact_snapshot(session, c.contacts[0].ref), "email",
                                                  "x@", errors=[error])]),
        }
        places = {name: (coll.code, coll.departement, coll.region, coll.kind)
                  for name, coll in (("clean", a), ("stranger", b), ("wrong", c))}
        contact_ref = a.contacts[0].ref
    env = {"MAILBOT_DB": seeded_db_url, **REVIEWERS}
    return env, ids, places, contact_ref, seeded_sessions


def run(env, *args):
    result = CliRunner().invoke(main, list(args), env=env)
    return result


def listed(env, *args) -> list[int]:
    result = run(env, "review", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return [row["id"] for row in json.loads(result.output)]


def test_the_queue_filters_and_pages_oldest_first(queue):
    env, ids, places, _, _ = queue
    assert listed(env) == [ids["clean"], ids["stranger"], ids["wrong"]]
    assert listed(env, "--untrusted") == [ids["stranger"]]
    assert listed(env, "--trusted", "--without-errors") == [ids["clean"]]
    assert listed(env, "--with-errors") == [ids["wrong"]]
    assert listed(env, "--with-conflicts") == []
    code, dep, reg, kind = places["stranger"]
    assert ids["stranger"] in listed(env, "--departement", dep)
    assert all(i in listed(env, "--region", reg) for i in [ids[n] for n, p in places.items() if p[2] == reg])
    assert listed(env, "--collectivite", code) == [ids["stranger"]]
    assert ids["clean"] in listed(env, "--kind", places["clean"][3])
    assert listed(env, "--limit", "2", "--page", "2") == [ids["wrong"]]
    text = run(env, "review", "list").output
    assert "(non reconnu)" in text and all(h in text for h in ("Collectivité", "Changements", "Erreurs", "Conflits"))
    wrong = next(line.split() for line in text.splitlines() if line.strip().startswith(f"{ids['wrong']} "))
    assert "à examiner" in " ".join(wrong) and "pending" not in text


def test_show_gives_the_changes_the_note_and_the_raw_message(queue):
    env, ids, _, _, _ = queue
    text = run(env, "review", "show", str(ids["clean"])).output
    assert "Maire adjointe" in text and "Merci de corriger le titre." in text
    data = json.loads(run(env, "review", "show", str(ids["clean"]), "--json").output)
    assert data["changes"][0]["new"] == "Maire adjointe" and data["trusted"] is True
    raw = run(env, "review", "show", str(ids["clean"]), "--raw").stdout_bytes
    assert raw.startswith(b"From: ") and b"Message-ID: <reply-" in raw
    missing = run(env, "review", "show", "999999")
    assert missing.exit_code == 1 and "aucun ensemble" in missing.output


def test_an_unknown_reviewer_is_refused_and_nothing_changes(queue):
    env, ids, _, contact_ref, sessions = queue
    result = run(env, "review", "approve", str(ids["clean"]), "--as", "Mallory", "--no-send")
    assert result.exit_code == 1 and "n'est pas relecteur" in result.output
    with sessions() as session:
        assert session.get(ChangeSet, ids["clean"]).status == "pending"


def test_decisions_by_command_and_the_history(queue):
    env, ids, places, contact_ref, sessions = queue
    result = run(env, "review", "approve", str(ids["clean"]), "--as", "Paul Durand", "--no-send")
    assert result.exit_code == 0 and "approved" in result.output, result.output
    refused = run(env, "review", "approve", str(ids["wrong"]), "--as", "Paul Durand", "--no-send")
    assert refused.exit_code == 1 and "a une erreur" in refused.output
    rejected = run(env, "review", "reject", str(ids["stranger"]), "--reason", "Expéditeur inconnu de la mairie",
                   "--as", "Claire Martin", "--no-send")
    assert rejected.exit_code == 0 and "rejected" in rejected.output
    with sessions() as session:
        assert session.scalar(select(Contact.title).where(Contact.ref == contact_ref)) == "Maire adjointe"
    entries = [e for e in json.loads(run(env, "history", places["clean"][0], "--json").output) if e["type"] == "change"]
    assert [(e["ref"], e["field"], e["new"], e["reviewer"]) for e in entries] == [
        (contact_ref, "title", "Maire adjointe", "Paul Durand")]
    assert "Maire adjointe" in run(env, "history", places["clean"][0]).output


def test_bulk_approval_and_its_dry_run(queue):
    env, ids, _, contact_ref, sessions = queue
    dry = run(env, "review", "approve", "--all-trusted-without-errors", "--dry-run", "--as", "Claire Martin")
    assert dry.exit_code == 0 and f"#{ids['clean']}" in dry.output
    assert f"#{ids['stranger']}" not in dry.output and f"#{ids['wrong']}" not in dry.output
    with sessions() as session:
        assert session.get(ChangeSet, ids["clean"]).status == "pending"  # a dry run changes nothing
    done = run(env, "review", "approve", "--all-trusted-without-errors", "--as", "Claire Martin", "--no-send")
    assert done.exit_code == 0 and "1 ensemble(s)" in done.output, done.output
    assert listed(env) == [ids["stranger"], ids["wrong"]]


def test_decision_notices_and_the_digest_go_out_by_smtp(queue):
    env, ids, _, _, sessions = queue
    controller, sink = start_sink()
    try:
        env = {**env, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}", "MAILBOT_DIGEST_TO": "relecture@cncd.example.fr"}
        result = run(env, "review", "reject", str(ids["stranger"]), "--reason", "Adresse inconnue",
                     "--as", "Claire Martin")
        assert result.exit_code == 0 and "1 envoyé(s)" in result.output, result.output
        [notice] = sink.messages
        message = BytesParser(policy=policy.default).parsebytes(notice.content)
        assert notice.rcpt_tos == ["inconnu@example.org"]
        assert message["In-Reply-To"].startswith("<reply-") and message["Auto-Submitted"] == "auto-generated"
        body = message.get_body(("plain",)).get_content()
        assert "Adresse inconnue" in body and "Directeur" in body
        digest = run(env, "review", "digest", "--send")
        assert digest.exit_code == 0, digest.output
        sent = BytesParser(policy=policy.default).parsebytes(sink.messages[-1].content)
        assert sink.messages[-1].rcpt_tos == ["relecture@cncd.example.fr"]
        assert "2 ensemble(s) en attente" in sent["Subject"]
        assert "avec des erreurs à corriger : 1" in sent.get_body(("plain",)).get_content()
    finally:
        controller.stop()
    figures = json.loads(run(env, "review", "digest", "--json").output)
    assert figures["pending"] == 2 and figures["with_errors"] == 1


def test_reviewers_approving_at_once_from_separate_processes_apply_the_set_once(queue):
    """Four `mailbot review approve` processes race on one set: one applies it, the others find it decided."""
    import subprocess
    import sys

    env, ids, places, contact_ref, sessions = queue
    names = ["Claire Martin", "Paul Durand"] * 2
    procs = [subprocess.Popen([sys.executable, "-m", "mailbot", "review", "approve", str(ids["clean"]), "--as", name,
                               "--no-send"], env={**__import__("os").environ, **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for name in names]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 1, 1, 1], outputs
    assert sum("1 appliqué(s)" in out for out in outputs) == 1, outputs
    assert sum("est déjà approuvé par" in out for out in outputs) == 3, outputs  # refused, and told why
    entries = [e for e in json.loads(run(env, "history", places["clean"][0], "--json").output) if e["type"] == "change"]
    assert len(entries) == 1 and entries[0]["ref"] == contact_ref
