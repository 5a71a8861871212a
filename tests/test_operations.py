"""Running the bot: campaign deadlines and lifecycle, `serve` refusing to start for a clear reason in
one French line, stores that are not created by mistake, quiet migrations, a log line per delivery,
préfecture directories as French Excel saves them, and the command line's tables in French."""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.engine import make_url

from mailbot.cli.commands import main
from mailbot.clock import utcnow
from mailbot.outbound.deadlines import DeadlineError, check_not_past, parse_deadline
from mailbot.devtools.sink import free_port
from mailbot.inbound.queue import Arrival, store_arrival
from mailbot.outbound.delivery import deliver_pending
from mailbot.prefectures.directory import PrefectureError, decode_directory, parse_directory
from store.campaign_models import Campaign, ReminderLog
from store.db import make_engine, upgrade
from tests.test_delivery import config_for, queue_message

ROOT = Path(__file__).resolve().parents[1]


def cli(env: dict, *args: str):
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def seeded_sqlite(tmp_path, store_template) -> dict:
    """The environment of a copy of the seeded Atlas on SQLite (the commands here do not depend on
    the backend; the lifecycle itself is also run on PostgreSQL below)."""
    store = tmp_path / "atlas.sqlite"
    shutil.copy(make_url(store_template("sqlite", seeded=True)).database, store)
    return {"MAILBOT_DB": f"sqlite:///{store}", "MAILBOT_SECRET": "ops", "MAILBOT_SMTP": f"smtp://127.0.0.1:{free_port()}"}


# --- deadlines ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2012-06-30", date(2012, 6, 30)),
    ("30 juin 2012", date(2012, 6, 30)),
    ("1er février 2013", date(2013, 2, 1)),
    ("1 FEVRIER 2013", date(2013, 2, 1)),
    ("15 août 2013", date(2013, 8, 15)),
    ("30/06/2012", date(2012, 6, 30)),  # one reading only: 30 cannot be a month
    ("5/5/2013", date(2013, 5, 5)),
])
def test_deadlines_in_iso_or_in_french(text, expected):
    assert parse_deadline(text) == expected


@pytest.mark.parametrize("text, why", [
    ("2012-13-01", "n'existe pas"),
    ("2012-02-30", "n'existe pas"),
    ("31 juin 2012", "n'existe pas"),
    ("1/2/2013", "ambiguë"),
    ("03.04.2013", "ambiguë"),
    ("30 jiun 2012", "mois inconnu"),
    ("demain", "illisible"),
    ("2012/06/30", "illisible"),
])
def test_impossible_ambiguous_and_unreadable_deadlines_are_refused(text, why):
    with pytest.raises(DeadlineError, match=why):
        parse_deadline(text)


def test_a_past_deadline_needs_allow_past():
    with pytest.raises(DeadlineError, match="déjà passée.*--allow-past"):
        check_not_past(date(2012, 6, 30), date(2012, 7, 1), allow_past=False)
    check_not_past(date(2012, 6, 30), date(2012, 7, 1), allow_past=True)
    check_not_past(date(2012, 6, 30), date(2012, 6, 30), allow_past=False)  # the last day is not past


def test_campaign_create_reads_the_deadline_strictly(seeded_sqlite):
    env = seeded_sqlite
    for deadline, message in (("2012-13-01", "n'existe pas"), ("1/2/2013", "ambiguë"),
                              ("30 juin 2012", "déjà passée")):
        result = cli(env, "campaign", "create", "c", "--deadline", deadline)
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert json.loads(cli(env, "campaign", "list", "--json").output) == []  # nothing was created
    future = utcnow().date() + timedelta(days=60)
    created = cli(env, "campaign", "create", "c", "--deadline", f"{future.day} {MONTHS[future.month - 1]} {future.year}")
    assert created.exit_code == 0, created.output
    assert created.output.startswith("Campagne c créée : ") and "date limite le" in created.output
    assert cli(env, "campaign", "create", "old", "--deadline", "2012-06-30", "--allow-past").exit_code == 0
    listed = {row["name"]: row for row in json.loads(cli(env, "campaign", "list", "--json").output)}
    assert listed["c"]["deadline"] == future.isoformat() and listed["old"]["deadline"] == "2012-06-30"


MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")


# --- campaign lifecycle ---------------------------------------------------------------------------------------

def test_close_and_list_campaigns(db_url, engine):
    """`campaign close` on either backend; `campaign list` tells open from closed and the deadline."""
    from store.seed import seed_atlas

    seed_atlas(engine, scale=0.01, seed=3)
    env = {"MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{free_port()}"}
    assert cli(env, "campaign", "create", "c2012", "--deadline", "2012-06-30", "--allow-past").exit_code == 0
    assert cli(env, "campaign", "create", "essai", "--deadline", "2099-06-30").exit_code == 0
    closed = cli(env, "campaign", "close", "essai")
    assert closed.exit_code == 0 and closed.output.startswith("Campagne essai close")
    assert "déjà close" in cli(env, "campaign", "close", "essai").output
    unknown = cli(env, "campaign", "close", "nope")
    assert unknown.exit_code == 1 and "campagne inconnue « nope »" in unknown.output
    rows = json.loads(cli(env, "campaign", "list", "--json").output)
    assert [(r["name"], r["closed"], r["deadline"]) for r in rows] == [("c2012", False, "2012-06-30"),
                                                                      ("essai", True, "2099-06-30")]
    text = cli(env, "campaign", "list").output
    c2012 = next(line for line in text.splitlines() if "c2012" in line)
    essai = next(line for line in text.splitlines() if "essai" in line)
    assert "30 juin 2012" in c2012 and "ouverte, date limite passée" in c2012
    assert "30 juin 2099" in essai and "close" in essai
    # a closed campaign is neither reminded nor sent
    for command in (["remind", "essai", "--after", "0d"], ["send", "essai", "--quiet"]):
        refused = cli(env, "campaign", *command)
        assert refused.exit_code == 1 and "la campagne « essai » est close" in refused.output, refused.output
    with make_engine(db_url).connect() as conn:
        assert conn.scalar(select(Campaign.closed).where(Campaign.name == "essai")) is True
        assert conn.execute(select(ReminderLog)).first() is None


# --- operations -----------------------------------------------------------------------------------------------

READ_ONLY = (["stats"], ["show", "COM-35238"], ["campaign", "list"], ["campaign", "status", "c"], ["inbox", "list"],
             ["review", "list"], ["prefectures", "list"], ["history", "COM-35238"])


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: " ".join(c))
def test_a_read_only_command_on_a_mistyped_sqlite_url_creates_no_file(tmp_path, command):
    typo = tmp_path / "atlass.sqlite"
    result = cli({"MAILBOT_DB": f"sqlite:///{typo}", "MAILBOT_REVIEWERS": "X"}, *command)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Erreur : pas de base de données à {typo}") and "mailbot init" in result.output
    assert not typo.exists() and list(tmp_path.iterdir()) == []


def run_mailbot(args: list[str], env: dict, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", "mailbot", *args], env=full, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def test_serve_refuses_the_development_secret_without_dev(tmp_path):
    db = f"sqlite:///{tmp_path / 'a.sqlite'}"
    upgrade(make_engine(db))
    line = one_error_line(run_mailbot(["serve"], {"MAILBOT_DB": db, "MAILBOT_LISTEN": f"127.0.0.1:{free_port()}"},
                                      tmp_path))
    assert "secret de développement" in line and "MAILBOT_SECRET" in line and "--dev" in line


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path):
    db = f"sqlite:///{tmp_path / 'a.sqlite'}"
    upgrade(make_engine(db))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_mailbot(["serve", "--dev"], {"MAILBOT_DB": db, "MAILBOT_LISTEN": f"127.0.0.1:{port}"}, tmp_path)
    line = one_error_line(result)
    assert f"le port 127.0.0.1:{port} est déjà utilisé" in line and "MAILBOT_LISTEN" in line


def test_serve_without_a_store_says_so_and_creates_nothing(tmp_path):
    missing = tmp_path / "absent.sqlite"
    line = one_error_line(run_mailbot(["serve", "--dev"], {"MAILBOT_DB": f"sqlite:///{missing}",
                                                           "MAILBOT_LISTEN": f"127.0.0.1:{free_port()}"}, tmp_path))
    assert f"pas de base de données à {missing}" in line and "mailbot init" in line
    assert not missing.exists()
    empty = tmp_path / "vide.sqlite"
    make_engine(f"sqlite:///{empty}").connect().close()  # a file, but no schema
    line = one_error_line(run_mailbot(["serve", "--dev"], {"MAILBOT_DB": f"sqlite:///{empty}",
                                                           "MAILBOT_LISTEN": f"127.0.0.1:{free_port()}"}, tmp_path))
    assert "n'est pas initialisée" in line and "mailbot init" in line


def test_an_unreachable_relay_is_one_line(seeded_sqlite):
    env = seeded_sqlite  # its relay port has nobody listening
    assert cli(env, "campaign", "create", "c", "--deadline", "2099-06-30").exit_code == 0
    result = cli(env, "campaign", "send", "c", "--limit", "2", "--quiet")
    assert result.exit_code == 1 and "Traceback" not in result.output
    port = env["MAILBOT_SMTP"].rsplit(":", 1)[1]
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Erreur : le relais 127.0.0.1:{port} est injoignable (connexion refusée)")
    assert "MAILBOT_SMTP" in last
    assert result.output.startswith("2 fiches préparées")  # what was done is said first, and kept queued


def test_alembic_speaks_only_when_it_migrates(tmp_path, caplog):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    with caplog.at_level(logging.INFO, logger="alembic"):
        upgrade(engine)
    assert any("Running upgrade" in r.getMessage() for r in caplog.records if r.name.startswith("alembic"))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="alembic"):
        upgrade(engine)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alembic")] == []


def test_each_delivery_outcome_is_logged(Session, engine, db_url, sink, caplog):
    controller, handler = sink
    handler.refuse("plein@ville.fr", "452 4.2.2 Mailbox full", times=1)
    handler.refuse("absent@ville.fr", "550 5.1.1 No such user")
    queue_message(Session, ["ok@ville.fr", "plein@ville.fr", "absent@ville.fr"])
    with caplog.at_level(logging.INFO, logger="mailbot.delivery"):
        deliver_pending(engine, config_for(db_url, controller.port))
    lines = {r.getMessage().split(" à ")[1].split(",")[0]: r.getMessage() for r in caplog.records
             if r.name == "mailbot.delivery" and r.getMessage().startswith("envoi ")}
    assert set(lines) == {"ok@ville.fr", "plein@ville.fr", "absent@ville.fr"}
    assert "accepté par le relais (250)" in lines["ok@ville.fr"]
    assert "différé (452)" in lines["plein@ville.fr"] and "Mailbox full" in lines["plein@ville.fr"]
    assert "en échec (550)" in lines["absent@ville.fr"]


# --- préfecture directories ---------------------------------------------------------------------------------

EXCEL_ROWS = ("Département;Nom;Adresse;Courriel\r\n"
              "35;Préfecture d'Ille-et-Vilaine;\"3 avenue de la Préfecture\r\n35026 RENNES CEDEX 9\";pref-35@interieur.gouv.fr\r\n"
              "973;Préfecture de la Guyane;\"Rue Fiedmond\r\n97307 CAYENNE\";\r\n")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_a_directory_saved_by_french_excel_is_read(encoding):
    lines = parse_directory(decode_directory(EXCEL_ROWS.encode(encoding)))
    assert [(line.code, line.name, line.email) for line in lines] == [
        ("35", "Préfecture d'Ille-et-Vilaine", "pref-35@interieur.gouv.fr"),
        ("973", "Préfecture de la Guyane", None)]
    assert lines[0].address == "3 avenue de la Préfecture\n35026 RENNES CEDEX 9"
    comma = parse_directory(decode_directory(EXCEL_ROWS.replace(";", ",").encode(encoding)))
    assert [line.name for line in comma] == [line.name for line in lines]


def test_a_directory_in_another_encoding_is_one_clear_error():
    with pytest.raises(PrefectureError, match="ni UTF-8 ni windows-1252"):
        decode_directory("Département;Nom\n35;Préf\n".encode("utf-8")[:-1] + b"\x81\x8d\n")


def test_prefectures_import_takes_a_windows_1252_file(seeded_sqlite, tmp_path):
    path = tmp_path / "annuaire.csv"
    path.write_bytes(EXCEL_ROWS.encode("cp1252"))
    result = cli(seeded_sqlite, "prefectures", "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "0 préfectures créées, 2 mises à jour"
    rows = {r["departement"]: r for r in json.loads(cli(seeded_sqlite, "prefectures", "list", "--json").output)}
    assert rows["35"]["name"] == "Préfecture d'Ille-et-Vilaine" and rows["35"]["email"] == "pref-35@interieur.gouv.fr"


# --- the command line in French -----------------------------------------------------------------------------

def test_inbox_list_is_a_french_table_that_prints_outside_text_as_written(engine, db_url):
    raw = (b"From: Agent <a@ville.fr>\r\nTo: atlas@cncd.example.fr\r\nSubject: [bold red]Alerte[/bold red] [link=x]\r\n"
           b"Message-ID: <1@ville.fr>\r\n\r\nBonjour\r\n")
    store_arrival(engine, Arrival(raw, "smtp", "a@ville.fr", ("atlas@cncd.example.fr",)))
    result = cli({"MAILBOT_DB": db_url}, "inbox", "list")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.strip())
    assert all(word in header for word in ("Reçu le", "État", "Nature", "Expéditeur", "Objet"))
    assert "[bold red]Alerte[/bold red] [link=x]" in result.output  # not read as markup
    assert "en file" in result.output and "queued" not in result.output


def test_stats_and_prefectures_list_are_french_tables_with_totals(seeded_sqlite):
    stats = cli(seeded_sqlite, "stats").output
    assert "Collectivités engagées" in stats and "Nombre" in stats
    listed = cli(seeded_sqlite, "prefectures", "list").output.splitlines()
    assert any("Ille-et-Vilaine" in line for line in listed)
    total = next(line for line in listed if line.strip().startswith("Total"))
    rows = json.loads(cli(seeded_sqlite, "prefectures", "list", "--json").output)
    assert f"{len(rows)} préfectures" in total and total.split()[-1] == str(sum(r["in_atlas"] for r in rows))
