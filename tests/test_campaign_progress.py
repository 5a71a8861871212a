"""`mailbot campaign send NAME` without --quiet: the progress a user sees.

The bars are rich's, on stderr. Not attached to a terminal (a log file, CI, or click's CliRunner
here) rich draws nothing while it runs and prints the bars' final state once, when they stop: that
is what these tests read.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbot.outbound.campaign import create_campaign
from mailbot.cli.commands import main

RULES = Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml"
LIMIT = 5
# variables that would make rich think stderr is a terminal, or change its width
RICH_ENV = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None, "COLUMNS": None}


@pytest.fixture
def env(seeded_engine, seeded_sessions, seeded_db_url, sink):
    with seeded_sessions.begin() as session:
        create_campaign(session, "c2012", RULES, date(2012, 6, 30))
    controller, _ = sink
    return {"MAILBOT_DB": seeded_db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
            "MAILBOT_SECRET": "test-secret", "MAILBOT_FROM": "atlas@cncd.example.fr", **RICH_ENV}


def send(env, *options):
    result = CliRunner().invoke(main, ["campaign", "send", "c2012", "--limit", str(LIMIT), *options], env=env)
    assert result.exit_code == 0, result.output
    return result


def final_counts(stdout: str) -> tuple[int, int, int]:
    match = re.search(r"^(\d+) fiches préparées, (\d+) collectivités sans adresse utilisable ; (\d+) envois acceptés "
                      r"par le relais, 0 différés \(nouvel essai plus tard\), 0 en échec$", stdout, re.MULTILINE)
    assert match, stdout
    return tuple(int(group) for group in match.groups())


def test_send_shows_the_rendering_and_sending_progress_and_the_final_counts(env, sink):
    _, handler = sink
    result = send(env)
    rendered, unreachable, sent = final_counts(result.stdout)
    assert rendered + unreachable == LIMIT and rendered > 0
    envelopes = sum(len(message.rcpt_tos) for message in handler.messages)
    assert sent == envelopes > 0
    # both bars, on stderr, at their final state: every target rendered (or found unreachable),
    # every envelope sent (their number is not known beforehand: "N/?")
    lines = result.stderr.splitlines()
    assert [line.split()[0] for line in lines] == ["Rendu", "Envoi"], result.stderr
    assert re.fullmatch(rf"Rendu\s+━+\s+{LIMIT}/{LIMIT}\s+0:00:00", lines[0].rstrip()), lines[0]
    assert re.fullmatch(rf"Envoi\s+━+\s+{sent}/\?", lines[1].rstrip()), lines[1]
    assert "Rendu" not in result.stdout  # the summary line stays alone on stdout


def test_quiet_send_shows_no_progress(env):
    result = send(env, "--quiet")
    final_counts(result.stdout)
    assert result.stderr == ""
