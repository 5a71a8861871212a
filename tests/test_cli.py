"""The CLI of the foundation: init, seed, stats, show, settings, and one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from mailbot.cli.commands import main
from mailbot.config import ConfigError, load_config, parse_imap_url, parse_smtp_url


def run(args, db_url, **env):
    return CliRunner().invoke(main, args, env={"MAILBOT_DB": db_url, **env}, catch_exceptions=False)


def test_seed_stats_and_show(db_url):
    assert run(["init"], db_url).exit_code == 0
    result = run(["seed", "--scale", "0.02", "--seed", "3"], db_url)
    assert result.exit_code == 0, result.output
    stats = json.loads(run(["stats", "--json"], db_url).output)
    for key in ("collectivites", "partenaires", "pays", "projets_cooperation", "projets_actions", "contacts"):
        assert isinstance(stats[key], int) and stats[key] > 0
    assert stats["collectivites"] == 96  # round(4800 * 0.02)
    from sqlalchemy import select

    from store.db import make_engine, session_factory
    from store.models import Collectivite, Cooperation

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        code = session.scalar(select(Collectivite.code).join(Cooperation).limit(1))
    engine.dispose()
    shown = json.loads(run(["show", code, "--json"], db_url).output)
    assert shown["code"] == code
    assert set(shown) >= {"contacts", "reseaux", "apd", "cooperations", "actions"}
    every_ref = [c["ref"] for c in shown["contacts"]] + [c["ref"] for c in shown["cooperations"] + shown["actions"]]
    assert all(ref and "-" in ref for ref in every_ref)
    text = run(["show", code.lower()], db_url).output
    assert shown["name"] in text and "Coopérations décentralisées" in text


def test_errors_are_one_line_without_traceback(db_url, tmp_path):
    result = CliRunner().invoke(main, ["stats"], env={"MAILBOT_DB": db_url})
    assert result.exit_code != 0 and "mailbot init" in result.output
    run(["init"], db_url)
    result = CliRunner().invoke(main, ["show", "COM-00000"], env={"MAILBOT_DB": db_url})
    assert result.exit_code != 0 and "code de collectivité inconnu" in result.output
    result = CliRunner().invoke(main, ["stats"], env={"MAILBOT_DB": "nonsense://"})
    assert result.exit_code != 0 and "adresse de base de données" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("db = [unclosed")
    result = CliRunner().invoke(main, ["--config", str(bad), "stats"])
    assert result.exit_code != 0 and "TOML invalide" in result.output
    for output in (result.output,):
        assert "Traceback" not in output and output.count("\n") <= 2


def test_a_real_process_prints_one_line_on_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mailbot", "show", "COM-1"], cwd=tmp_path,
                          env={"MAILBOT_DB": "postgresql+psycopg://nobody@127.0.0.1:1/none", "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_settings_come_from_file_then_environment(tmp_path):
    conf = tmp_path / "mailbot.toml"
    conf.write_text('db = "sqlite:///from-file.sqlite"\nsecret = "file-secret"\nlisten = "0.0.0.0:2525"\n')
    config = load_config(conf, environ={"MAILBOT_SECRET": "env-secret"})
    assert config.db == "sqlite:///from-file.sqlite"
    assert config.secret == "env-secret"
    assert config.listen_address == ("0.0.0.0", 2525)
    with pytest.raises(ConfigError, match="réglage\\(s\\) inconnu"):
        conf.write_text('nope = 1\n')
        load_config(conf, environ={})
    with pytest.raises(ConfigError, match="introuvable"):
        load_config(tmp_path / "absent.toml", environ={})


def test_relay_and_mailbox_urls():
    target = parse_smtp_url("smtp://user%40x:p%3Ass@relay.example:587?starttls=1")
    assert (target.host, target.port, target.user, target.password, target.starttls) == (
        "relay.example", 587, "user@x", "p:ss", True)
    imap = parse_imap_url("imaps://bot:secret@mail.example/Atlas/Réponses")
    assert (imap.ssl, imap.port, imap.folder) == (True, 993, "Atlas/Réponses")
    for bad in ("http://x", "smtp://", "smtp://h:port"):
        with pytest.raises(ConfigError):
            parse_smtp_url(bad)
    with pytest.raises(ConfigError):
        parse_imap_url("imap://host-without-user")
