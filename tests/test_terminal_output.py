"""What the CLI prints of what came from outside reaches the reviewer's terminal inert (#16, point 7):
escape sequences in a subject, a From, a note and a value never get through `inbox list`, `inbox
show`, `review list`, `review show`, `history` or `prefectures list`, in text or JSON, nor through a
pipe to another process."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from mailbot.cli.commands import main
from mailbot.cli.terminal import json_safe, printable
from mailbot.config import load_config
from mailbot.inbound.queue import Arrival, store_arrival
from mailbot.review.decide import approve
from store.inbound_models import InboundMessage
from store.models import Prefecture
from store.review_models import ChangeSet
from tests.review_support import REVIEWERS, campaign_id, collectivite_with, contact_snapshot, make_set, update

TITLE = "\x1b]0;pwned\x07"  # retitles the window
CLEAR = "\x1b[2J\x1b[H"  # clears the screen
C1_CSI = "\x9b31m"  # the 8-bit form of ESC [
OSC8 = "\x9d8;;http://evil.example\x9c"  # 8-bit OSC (a hyperlink), 8-bit string terminator
RLO = "\u202e"  # right-to-left override
OVERWRITE = "approuvé\rrejeté"  # a carriage return prints the second word over the first
DANGEROUS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# --- the helper --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attack", [TITLE, CLEAR, C1_CSI, OSC8, RLO, "\x1bP1$qm\x1b\\", "\x1b(0", "\x07\x08\x00\x7f"])
def test_every_kind_of_sequence_is_removed_whole(attack):
    shown = printable(f"avant {attack}après")
    assert not DANGEROUS.search(shown)
    assert shown.startswith("avant ") and shown.endswith("après")
    assert "pwned" not in shown and "evil" not in shown and "2J" not in shown  # no leftovers of the sequence


def test_lines_and_tabs_survive_only_where_a_block_is_printed():
    assert printable("Merci\r\nde corriger\tle titre") == "Merci de corriger le titre"
    assert printable("Merci\r\nde corriger\tle titre", keep_lines=True) == "Merci\nde corriger\tle titre"
    assert printable(OVERWRITE) == "approuvé rejeté"  # both visible, nothing overwritten
    assert printable("ligne\u2028autre\x85fin", keep_lines=True) == "ligne\nautre\nfin"
    assert printable(None) == "" and printable(12) == "12"
    assert printable("Élue à Saint-Étienne — « Coopération » 👍") == "Élue à Saint-Étienne — « Coopération » 👍"


def test_json_keeps_the_data_exact_but_inert():
    data = {"subject": f"Re {TITLE}{C1_CSI}{RLO}x\u2028y"}
    dumped = json_safe(json.dumps(data, ensure_ascii=False))
    assert not DANGEROUS.search(dumped) and "\u2028" not in dumped
    assert json.loads(dumped) == data


# --- through the commands ----------------------------------------------------------------------------------

@pytest.fixture
def hostile(seeded_db_url, seeded_sessions, seeded_engine):
    """A reply whose subject, From, note and values carry escape sequences, approved in part."""
    raw = ("From: =?utf-8?q?Marie_=1B]0;pwned=07Dupont?= <marie@mairie.example.fr>\r\n"
           "To: atlas@cncd.example.fr\r\n"
           "Subject: =?utf-8?q?Re=3A_Atlas_=1B[2J=1B[H=C2=9B31m_fin?=\r\n"
           "Message-ID: <hostile-1@mairie.example.fr>\r\n\r\nBonjour\r\n").encode()
    stored = store_arrival(seeded_engine, Arrival(raw, "smtp", "marie@mairie.example.fr", ("atlas@cncd.example.fr",)))
    with seeded_sessions.begin() as session:
        inbound = session.get(InboundMessage, stored.inbound_id)
        inbound.state, inbound.kind, inbound.sender = "done", "reply", f"marie{RLO}@mairie.example.fr"
        inbound.reason = f"réponse {CLEAR}"
        coll = collectivite_with(session)
        seen = contact_snapshot(session, coll.contacts[0].ref)
        changeset = ChangeSet(
            campaign_id=campaign_id(session), collectivite_id=coll.id, inbound_id=inbound.id,
            thread_key=f"test:{coll.id}:{inbound.id}", sender=inbound.sender, trusted=True, status="pending",
            note=f"Merci {TITLE}de corriger\r\n{OVERWRITE}", created_at=inbound.received_at)
        changeset.changes = [update("contact", seen, "title", f"Maire {CLEAR}{C1_CSI}adjointe{RLO}")]
        session.add(changeset)
        session.add(Prefecture(ref="PR-TEST1", departement="ZZ", region="ZZ", name=f"Préfecture {TITLE}test",
                               email="pref@example.gouv.fr", address=f"1 rue {CLEAR}"))
        session.flush()
        ids = (inbound.id, changeset.id, coll.code)
    env = {"MAILBOT_DB": seeded_db_url, **REVIEWERS}
    approve(seeded_sessions, load_config(environ=env), ids[1], "Claire Martin")
    return env, ids


def _commands(inbound_id: int, set_id: int, code: str) -> list[list[str]]:
    return [["inbox", "list"], ["inbox", "show", str(inbound_id)], ["review", "list", "--status", "all"],
            ["review", "show", str(set_id)], ["history", code], ["prefectures", "list"]]


def test_no_command_prints_an_agents_escape_sequence(hostile):
    env, (inbound_id, set_id, code) = hostile
    for command in _commands(inbound_id, set_id, code):
        for args in (command, command + ["--json"]):
            result = CliRunner().invoke(main, args, env=env)
            assert result.exit_code == 0, (args, result.output)
            assert not DANGEROUS.search(result.output), (args, result.output)
    shown = CliRunner().invoke(main, ["review", "show", str(set_id)], env=env).output
    assert "adjointe" in shown and "Merci de corriger" in shown  # the words are still there
    listed = CliRunner().invoke(main, ["inbox", "list"], env=env).output
    # the whole sequence is gone, not just its ESC (no visible « [2J[H » left in the subject)
    assert "Re: Atlas fin" in listed and "[2J" not in listed and "[H" not in listed
    data = json.loads(CliRunner().invoke(main, ["review", "show", str(set_id), "--json"], env=env).output)
    assert data["changes"][0]["new"] == f"Maire {CLEAR}{C1_CSI}adjointe{RLO}"  # JSON: exact, escaped


def test_through_a_pipe_too(hostile):
    env, (inbound_id, set_id, code) = hostile
    for args in (["review", "show", str(set_id)], ["inbox", "show", str(inbound_id)]):
        out = subprocess.run([sys.executable, "-m", "mailbot", *args], env={**os.environ, **env},
                             capture_output=True, check=True).stdout.decode()
        assert not DANGEROUS.search(out), out
        assert "Dupont" in out or "adjointe" in out
    raw = subprocess.run([sys.executable, "-m", "mailbot", "inbox", "show", str(inbound_id), "--raw"],
                         env={**os.environ, **env}, capture_output=True, check=True).stdout
    assert raw.startswith(b"From: =?utf-8?q?Marie_=1B]0;pwned=07Dupont?=")  # --raw into a pipe: a saved copy, exact


def test_an_error_quoting_a_value_is_printable_too(hostile, seeded_sessions):
    """An edit refused quotes the value it kept: the agent's, escape sequences and all."""
    env, (_, hostile_set, _) = hostile
    with seeded_sessions.begin() as session:
        coll = collectivite_with(session, skip={session.get(ChangeSet, hostile_set).collectivite_id})
        seen = contact_snapshot(session, coll.contacts[0].ref)
        set_id = make_set(session, coll, [update("contact", seen, "email", f"m{CLEAR}{TITLE}@ville.fr")])
        change_id = session.get(ChangeSet, set_id).changes[0].id
    refused = CliRunner().invoke(main, ["review", "edit", str(change_id), "--value", "pas une adresse",
                                        "--as", "Claire Martin"], env=env)
    assert refused.exit_code == 1 and "La valeur précédente est conservée : « m@ville.fr »" in refused.output
    assert not DANGEROUS.search(refused.output)
