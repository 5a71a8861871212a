"""Nobody is recorded sent without the relay's 250 after the final dot; a message whose answer never
came (the connection lost, `campaign send` killed) is sent again with the same Message-ID and counted
`uncertain`; the render worker processes do not outlive a killed `campaign send`."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select, update

from mailbot.devtools.processes import alive, descendants
from mailbot.outbound.campaign import campaign_status, create_campaign, get_campaign, render_campaign
from mailbot.cli.commands import main
from mailbot.clock import utcnow
from mailbot.config import load_config
from mailbot.outbound.delivery import deliver_pending
from mailbot.devtools.sink import Received, SinkHandler, free_port
from store.campaign_models import Delivery, OutboundMessage

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "campagne-2012.toml"
SECRET = "uncertain-test-secret"


@dataclass
class UnansweredHandler(SinkHandler):
    """A relay that takes the `unanswered`-th message (1-based) and never answers its final dot:
    it drops the connection (`hang` False) or keeps it waiting (`hang` True)."""
    unanswered: int = 0
    hang: bool = False
    data_seen: int = 0
    taken: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_seen += 1
            silent = self.data_seen == self.unanswered
        if not silent:
            return await super().handle_DATA(server, session, envelope)
        with self.lock:  # the relay has the message: it will deliver it, whatever we hear
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        self.taken.set()
        if self.hang:
            await asyncio.sleep(3600)
        server.transport.abort()
        return "250 never read"


@pytest.fixture
def relay():
    handler = UnansweredHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), data_size_limit=50 * 1024 * 1024,
                            decode_data=False, enable_SMTPUTF8=True)
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def atlas(seeded_engine, seeded_sessions):
    with seeded_sessions.begin() as session:
        create_campaign(session, "c2012", RULES, date(2012, 6, 30))
    return seeded_engine


def env_for(db_url: str, port: int, **extra: str) -> dict:
    return {"MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{port}", "MAILBOT_SECRET": SECRET,
            "MAILBOT_FROM": "atlas@cncd.example.fr", **extra}


def copies(handler) -> Counter:
    """(Message-ID, recipient) → how many times the relay took it."""
    counts: Counter = Counter()
    for message in handler.messages:
        message_id = BytesParser(policy=policy.default).parsebytes(message.content, headersonly=True)["Message-ID"]
        counts.update((message_id, recipient.lower()) for recipient in message.rcpt_tos)
    return counts


def expected(Session) -> set:
    with Session() as session:
        return {(message_id, recipient.lower()) for message_id, recipient in session.execute(
            select(OutboundMessage.message_id, Delivery.recipient).join(Delivery))}


def uncertain_deliveries(Session) -> set:
    with Session() as session:
        return {(message_id, recipient.lower()) for message_id, recipient in session.execute(
            select(OutboundMessage.message_id, Delivery.recipient).join(Delivery).where(Delivery.uncertain.is_(True)))}


def status(db_url: str, port: int) -> tuple[dict, str]:
    env = env_for(db_url, port)
    as_json = CliRunner().invoke(main, ["campaign", "status", "c2012", "--json"], env=env)
    as_text = CliRunner().invoke(main, ["campaign", "status", "c2012"], env=env)
    assert as_json.exit_code == 0 and as_text.exit_code == 0, as_json.output + as_text.output
    return json.loads(as_json.output)["France"], as_text.output


def test_a_connection_lost_after_the_final_dot_is_sent_again_with_the_same_message_id_and_counted_uncertain(
        atlas, seeded_sessions, seeded_db_url, relay):
    controller, handler = relay
    handler.unanswered = 3
    config = load_config(environ=env_for(seeded_db_url, controller.port, MAILBOT_SMTP_CONNECTIONS="1"))
    render_campaign(atlas, seeded_sessions, config, "c2012")
    first = deliver_pending(atlas, config)
    assert first.uncertain >= 1 and first.deferred == first.uncertain
    lost = uncertain_deliveries(seeded_sessions)  # the recipients of the unanswered message
    assert len({message_id for message_id, _ in lost}) == 1
    with seeded_sessions() as session:
        [(state, code, detail)] = set(session.execute(
            select(Delivery.state, Delivery.smtp_code, Delivery.detail).where(Delivery.uncertain.is_(True))).all())
    assert (state, code) == ("deferred", None) and "issue inconnue" in detail  # never « sent » without a 250
    # the backoff is over: sent again, the same bytes, the same Message-ID
    with seeded_sessions.begin() as session:
        session.execute(update(Delivery).where(Delivery.state == "deferred")
                        .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    deliver_pending(atlas, config)
    received = copies(handler)
    assert set(received) == expected(seeded_sessions)
    assert {key for key, n in received.items() if n > 1} == lost and {received[key] for key in lost} == {2}
    with seeded_sessions() as session:
        assert set(session.scalars(select(Delivery.state))) == {"sent"}
        assert campaign_status(session, get_campaign(session, "c2012"))["France"]["uncertain"] == 1
    figures, text = status(seeded_db_url, controller.port)
    assert figures["uncertain"] == 1 and "Envoi incertain" in text  # the French label of the column


def test_campaign_send_killed_while_the_relay_holds_the_final_dot_leaves_it_unsent_then_sends_it_again(
        atlas, seeded_sessions, seeded_db_url, relay, tmp_path):
    controller, handler = relay
    handler.unanswered, handler.hang = 5, True
    env = {**os.environ, **env_for(seeded_db_url, controller.port, MAILBOT_SMTP_CONNECTIONS="1")}
    command = [sys.executable, "-m", "mailbot", "campaign", "send", "c2012", "--quiet"]
    sender = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert handler.taken.wait(60), sender.communicate(timeout=5)
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=30)
    answered = copies(handler)
    held = set(answered) - set(copies(SinkHandler(messages=handler.messages[:-1])))
    with seeded_sessions() as session:
        states = {(m, r.lower()): s for m, r, s in session.execute(
            select(OutboundMessage.message_id, Delivery.recipient, Delivery.state).join(Delivery))}
    assert {states[key] for key in held} == {"inflight"}  # the relay never said 250: not recorded sent
    # those it answered are recorded sent (the last 250 with the held message's own transaction)
    assert {key for key, state in states.items() if state == "sent"} == set(answered) - held

    handler.hang = False
    handler.unanswered = 0
    rerun = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr.decode()
    received = copies(handler)
    assert set(received) == expected(seeded_sessions)  # nobody missing
    duplicates = {key for key, n in received.items() if n > 1}
    assert duplicates == held == uncertain_deliveries(seeded_sessions)  # the unknown outcome only, same Message-ID
    with seeded_sessions() as session:
        assert set(session.scalars(select(Delivery.state))) == {"sent"}
    figures, _text = status(seeded_db_url, controller.port)
    assert figures["uncertain"] == 1


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc")
def test_render_workers_and_their_fork_server_exit_when_campaign_send_is_killed(tmp_path, relay):
    controller, handler = relay
    env = {**os.environ, **env_for(f"sqlite:///{tmp_path / 'big.sqlite'}", controller.port,
                                   MAILBOT_RATE_LIMIT="20", MAILBOT_RENDER_PROCESSES="2")}
    mailbot = [sys.executable, "-m", "mailbot"]
    # enough collectivités for worker processes (mailbot.outbound.render_pool.POOL_MIN_SUMMARIES)
    subprocess.run([*mailbot, "seed", "--scale", "0.1", "--seed", "3"], env=env, cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    subprocess.run([*mailbot, "campaign", "create", "c2012", "--rules", str(RULES), "--deadline", "2012-06-30", "--allow-past"],
                   env=env, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    sender = subprocess.Popen([*mailbot, "campaign", "send", "c2012", "--quiet"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and sender.poll() is None:
        workers = descendants(sender.pid)
        if len(workers) >= 4:  # the resource tracker, the fork server and its two workers
            break
        time.sleep(0.01)
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=30)
    assert len(workers) >= 4, "the render workers never started"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.1)
    assert [pid for pid in workers if alive(pid)] == []
