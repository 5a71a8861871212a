"""`mailbot reviewers` (accounts in the store) and the console served by `mailbot serve` when the
`web_listen` setting is set."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from mailbot.cli.commands import main
from mailbot.config import load_config
from mailbot.serve import Services, run_serve
from mailbot.devtools.sink import free_port
from mailbot.review.decide import require_reviewer
from mailbot.review.verdict import ReviewError
from store.review_models import ChangeSet
from tests.review_support import collectivite_with, contact_snapshot, make_set, update


def run(args, db_url):
    return CliRunner().invoke(main, args, env={"MAILBOT_DB": db_url}, catch_exceptions=False)


def test_reviewers_are_added_listed_disabled_and_given_a_link(db_url, engine):
    added = run(["reviewers", "add", "Claire Martin", "--email", "Claire.Martin@Diplomatie.gouv.fr"], db_url)
    assert added.exit_code == 0 and "Relecteur ajouté : Claire Martin <claire.martin@diplomatie.gouv.fr>" in added.output
    assert run(["reviewers", "add", "Paul Durand", "--email", "paul.durand@diplomatie.gouv.fr"], db_url).exit_code == 0
    twice = run(["reviewers", "add", "Claire Martin", "--email", "autre@diplomatie.gouv.fr"], db_url)
    assert twice.exit_code == 1 and "déjà" in twice.output
    bad = run(["reviewers", "add", "Mallory", "--email", "pas-une-adresse"], db_url)
    assert bad.exit_code == 1 and "adresse invalide" in bad.output
    link = run(["reviewers", "link", "Paul Durand"], db_url)
    assert link.exit_code == 0 and link.output.startswith("http://127.0.0.1:8080/connexion/lien/")
    assert run(["reviewers", "disable", "Paul Durand"], db_url).exit_code == 0
    listed = json.loads(run(["reviewers", "list", "--json"], db_url).output)
    assert listed == [{"name": "Claire Martin", "email": "claire.martin@diplomatie.gouv.fr", "active": True},
                      {"name": "Paul Durand", "email": "paul.durand@diplomatie.gouv.fr", "active": False}]
    refused = run(["reviewers", "link", "Paul Durand"], db_url)
    assert refused.exit_code == 1 and "aucun relecteur actif" in refused.output
    assert run(["reviewers", "disable", "Personne"], db_url).exit_code == 1
    assert "désactivé" in run(["reviewers", "list"], db_url).output


def test_serve_runs_the_console_when_web_listen_is_set(db_url, engine):
    web_port = free_port()
    config = load_config(environ={"MAILBOT_DB": db_url, "MAILBOT_LISTEN": f"127.0.0.1:{free_port()}",
                                  "MAILBOT_WEB_LISTEN": f"127.0.0.1:{web_port}"})
    stop, services = threading.Event(), Services()
    thread = threading.Thread(target=run_serve, args=(config,),
                              kwargs={"stop_event": stop, "services": services, "dev": True})
    thread.start()
    try:
        assert services.ready.wait(30)
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/connexion", timeout=10) as response:
            page = response.read().decode()
            assert response.status == 200 and "Connexion à la console de relecture" in page
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{web_port}/connexion", timeout=2)
        raise AssertionError("the console still answers after serve stopped")
    except urllib.error.URLError:
        pass


def test_mailbot_web_serves_the_console_until_stopped(db_url, engine):
    port = free_port()
    refused = run(["web"], db_url)
    assert refused.exit_code == 1 and "secret de développement" in refused.output
    process = subprocess.Popen([sys.executable, "-m", "mailbot", "web", "--dev", "--listen", f"127.0.0.1:{port}"],
                               env={**os.environ, "MAILBOT_DB": db_url}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 60, None
        while page is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/connexion", timeout=2) as response:
                    page = response.read().decode()
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert page is not None and "Recevoir un lien de connexion" in page
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    # uvicorn stops cleanly on SIGTERM, then lets the signal end the process as it asked
    assert process.returncode in (0, -signal.SIGTERM), output
    assert f"Console de relecture : http://127.0.0.1:{port}/" in output
    assert "Aucun relecteur : ajoutez-en un" in output


def test_review_as_accepts_an_active_account_and_refuses_a_disabled_one(seeded_db_url, seeded_sessions):
    # no `reviewers` setting here: the account made by `mailbot reviewers add` is enough, as in the console
    with seeded_sessions.begin() as session:
        coll = collectivite_with(session)
        other = collectivite_with(session, skip={coll.id})
        approved = make_set(session, coll, [update("contact", contact_snapshot(session, coll.contacts[0].ref), "title",
                                                   "Conseillère déléguée")])
        refused = make_set(session, other, [update("contact", contact_snapshot(session, other.contacts[0].ref), "title",
                                                   "Chef de projet")])
    assert run(["reviewers", "add", "Claire Martin", "--email", "claire.martin@diplomatie.gouv.fr"],
               seeded_db_url).exit_code == 0
    stranger = run(["review", "approve", str(approved), "--as", "Mallory", "--no-send"], seeded_db_url)
    assert stranger.exit_code != 0 and "Mallory n'est pas relecteur" in stranger.output
    done = run(["review", "approve", str(approved), "--as", "Claire Martin", "--no-send"], seeded_db_url)
    assert done.exit_code == 0, done.output
    assert run(["reviewers", "disable", "Claire Martin"], seeded_db_url).exit_code == 0
    disabled = run(["review", "approve", str(refused), "--as", "Claire Martin", "--no-send"], seeded_db_url)
    assert disabled.exit_code != 0 and "le compte de relecteur de Claire Martin est désactivé" in disabled.output
    with seeded_sessions() as session:
        assert session.get(ChangeSet, approved).decided_by == "Claire Martin"
        assert session.get(ChangeSet, approved).status == "approved"
        assert session.get(ChangeSet, refused).status == "pending"
    # a disabled account is refused even when the `reviewers` setting names it
    config = load_config(environ={"MAILBOT_DB": seeded_db_url, "MAILBOT_REVIEWERS": "Claire Martin"})
    with seeded_sessions() as session, pytest.raises(ReviewError, match="désactivé"):
        require_reviewer(config, "Claire Martin", session)
