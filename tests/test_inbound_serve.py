"""`mailbot serve` end to end: kill -9 in the middle of 500 concurrent deliveries loses nothing that
was acknowledged and processes everything once; a clean SIGTERM exits 0; an agent asking AIDE gets
the answer through the outbox and the delivery worker."""
from __future__ import annotations

import signal
import smtplib
import threading
import time
from email import policy
from email.parser import BytesParser

from sqlalchemy import func, select

from mailbot.serve import Services, run_serve
from store.campaign_models import OutboundMessage
from store.db import make_engine, upgrade
from store.inbound_models import AnswerLog, InboundMessage
from tests.inbound_support import BOT, SECRET, free_port, make_config, start_serve, stop_serve

MESSAGES = 500
CLIENTS = 8


def aide(index: int) -> bytes:
    """The same bytes every time: a retrying MTA sends the message it already tried."""
    sender = f"agent{index}@mairie-{index % 50}.fr"
    return (f"From: Agent {index} <{sender}>\r\nTo: {BOT}\r\nSubject: AIDE\r\n"
            f"Message-ID: <aide-{index}@mairie-{index % 50}.fr>\r\n\r\nAide svp\r\n").encode()


def push(port: int, indexes: list[int], acked: set[int], lock: threading.Lock) -> None:
    """One MTA connection: stops at the first failure (the server is gone)."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            for index in indexes:
                client.sendmail(f"agent{index}@mairie-{index % 50}.fr", [BOT], aide(index))
                with lock:
                    acked.add(index)
    except (smtplib.SMTPException, OSError):
        return


def wait_processed(engine, expected: int, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            done = conn.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.state == "done"))
            total = conn.scalar(select(func.count()).select_from(InboundMessage))
        if done == total == expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"{done}/{total} processed, expected {expected}")


def stored_indexes(engine) -> list[int]:
    with engine.connect() as conn:
        senders = conn.scalars(select(InboundMessage.sender)).all()
    return sorted(int(sender.split("@")[0].removeprefix("agent")) for sender in senders)


def test_kill_9_during_500_concurrent_deliveries(db_url, engine, tmp_path):
    port = free_port()
    env = {"MAILBOT_DB": db_url, "MAILBOT_LISTEN": f"127.0.0.1:{port}", "MAILBOT_SECRET": SECRET,
           "MAILBOT_FROM": BOT, "MAILBOT_SMTP": f"smtp://127.0.0.1:{free_port()}"}
    log = tmp_path / "serve.log"
    server = start_serve(env, tmp_path, log)
    acked: set[int] = set()
    lock = threading.Lock()
    threads = [threading.Thread(target=push, args=(port, list(range(k, MESSAGES, CLIENTS)), acked, lock))
               for k in range(CLIENTS)]
    for thread in threads:
        thread.start()
    while len(acked) < MESSAGES // 2 and server.poll() is None:
        time.sleep(0.005)
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=10)
    for thread in threads:
        thread.join()
    acked_before_kill = set(acked)
    assert 0 < len(acked_before_kill) < MESSAGES

    server = start_serve(env, tmp_path, log)
    try:
        stored = stored_indexes(engine)
        # Every acknowledged message survived the kill; what was not acknowledged is absent, except at
        # most the one message per connection whose commit was done when the 250 could not be written.
        assert acked_before_kill <= set(stored)
        assert len(stored) == len(set(stored))
        assert len(set(stored) - acked_before_kill) <= CLIENTS
        wait_processed(engine, len(stored))

        # The senders retry what was never acknowledged, as MTAs do.
        missing = sorted(set(range(MESSAGES)) - acked_before_kill)
        retry = [threading.Thread(target=push, args=(port, missing[k::CLIENTS], acked, lock)) for k in range(CLIENTS)]
        for thread in retry:
            thread.start()
        for thread in retry:
            thread.join()
        assert acked == set(range(MESSAGES))
        wait_processed(engine, MESSAGES)
    finally:
        code = stop_serve(server, log)
    assert code == 0, log.read_text()[-2000:]

    assert stored_indexes(engine) == list(range(MESSAGES))
    with engine.connect() as conn:
        # Processed exactly once: a second processing would have found today's answer already logged
        # and recorded « pas de réponse » instead.
        details = conn.scalars(select(InboundMessage.details)).all()
        assert all(d["answer"].startswith("réponse help mise en file") for d in details)
        assert conn.scalar(select(func.count()).select_from(AnswerLog)) == MESSAGES
        assert conn.scalar(select(func.count(func.distinct(AnswerLog.address)))) == MESSAGES
        assert conn.scalar(select(func.count()).select_from(OutboundMessage).where(OutboundMessage.kind == "help")) == MESSAGES


def test_an_agent_asking_for_help_gets_the_answer(db_url, engine, sink):
    sink_controller, received = sink
    port = free_port()
    config = make_config(db_url, MAILBOT_LISTEN=f"127.0.0.1:{port}", MAILBOT_SMTP=f"smtp://127.0.0.1:{sink_controller.port}")
    stop = threading.Event()
    services = Services()
    thread = threading.Thread(target=run_serve, args=(config,), kwargs={"stop_event": stop, "services": services})
    thread.start()
    try:
        assert services.ready.wait(30)
        question = (f"From: Marie Dupont <marie@rennes.fr>\r\nTo: {BOT}\r\nSubject: Aide\r\n"
                    "Message-ID: <question-1@rennes.fr>\r\n\r\nBonjour\r\n").encode()
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.sendmail("marie@rennes.fr", [BOT], question)
        deadline = time.monotonic() + 30
        while not received.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    [answer] = received.messages
    assert answer.rcpt_tos == ["marie@rennes.fr"] and "+b-" in answer.mail_from  # our VERP return path
    message = BytesParser(policy=policy.default).parsebytes(answer.content)
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] == "<question-1@rennes.fr>"
    assert "mode d'emploi" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "FICHE" in body and "AIDE" in body


def test_sigterm_stops_cleanly_with_an_empty_queue(tmp_path):
    db = tmp_path / "serve.sqlite"
    port = free_port()
    env = {"MAILBOT_DB": f"sqlite:///{db}", "MAILBOT_LISTEN": f"127.0.0.1:{port}", "MAILBOT_SMTP": f"smtp://127.0.0.1:{free_port()}"}
    upgrade(make_engine(env["MAILBOT_DB"]))  # `serve` refuses a store that `mailbot init` has not created
    server = start_serve(env, tmp_path, tmp_path / "serve.log")
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("a@ville.fr", [BOT], b"Subject: bonjour\r\n\r\nbonjour\r\n")
    assert stop_serve(server, tmp_path / "serve.log") == 0
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.scalars(select(InboundMessage.state)).all() in (["done"], ["queued"])
    engine.dispose()
