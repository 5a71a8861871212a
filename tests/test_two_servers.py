"""Two `mailbot serve` on one PostgreSQL share intake, processing and delivery; one killed with
SIGKILL in the middle of a flood of replies (SMTP to both) and of a campaign, the other takes over:
every accepted message is processed exactly once and every recipient receives its mail."""
from __future__ import annotations

import signal
import smtplib
import threading
import time
from collections import Counter
from datetime import date
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import func, select

from mailbot.outbound.campaign import create_campaign, render_campaign
from mailbot.config import load_config
from store.campaign_models import Delivery, OutboundMessage
from store.inbound_models import AnswerLog, InboundMessage
from tests.inbound_support import BOT, ROOT, SECRET, free_port, start_serve, stop_serve

RULES = ROOT / "rules" / "campagne-2012.toml"
MESSAGES = 400


def aide(index: int) -> bytes:
    return (f"From: Agent {index} <agent{index}@mairie.fr>\r\nTo: {BOT}\r\nSubject: AIDE\r\n"
            f"Message-ID: <two-{index}@mairie.fr>\r\n\r\nAide svp\r\n").encode()


class Mtas:
    """Sending MTAs that know both servers (two MX of equal priority): a message goes to one, and to
    the other when that one fails, until some server answers 250."""

    def __init__(self, ports: list[int], count: int, clients: int = 8):
        self.ports, self.acked, self.lock = ports, set(), threading.Lock()
        self.threads = [threading.Thread(target=self._push, args=(k, list(range(k, count, clients))), daemon=True)
                        for k in range(clients)]
        for thread in self.threads:
            thread.start()

    def _push(self, client: int, indexes: list[int]) -> None:
        choice = client % len(self.ports)
        for index in indexes:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    with smtplib.SMTP("127.0.0.1", self.ports[choice], timeout=30) as smtp:
                        smtp.sendmail(f"agent{index}@mairie.fr", [BOT], aide(index))
                    with self.lock:
                        self.acked.add(index)
                    break
                except (smtplib.SMTPException, OSError):
                    choice = (choice + 1) % len(self.ports)
                    time.sleep(0.05)

    def join(self) -> set[int]:
        for thread in self.threads:
            thread.join()
        return self.acked


def received(handler) -> Counter:
    counts: Counter = Counter()
    with handler.lock:
        messages = list(handler.messages)
    for message in messages:
        message_id = BytesParser(policy=policy.default).parsebytes(message.content, headersonly=True)["Message-ID"]
        counts.update((message_id, recipient.lower()) for recipient in message.rcpt_tos)
    return counts


def deliveries(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(select(OutboundMessage.message_id, Delivery.recipient, Delivery.state, Delivery.uncertain,
                                   OutboundMessage.kind).join(Delivery)).all()
    return {(m, r.lower()): (state, uncertain, kind) for m, r, state, uncertain, kind in rows}


def wait_until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_servers_share_the_work_and_one_killed_mid_flood_and_mid_campaign_loses_nothing(
        seeded_db_url, seeded_engine, seeded_sessions, sink, tmp_path):
    if seeded_engine.dialect.name != "postgresql":
        pytest.skip("several servers share one PostgreSQL (SQLite has one writer: one server)")
    controller, handler = sink
    smtp = f"smtp://127.0.0.1:{controller.port}"
    config = load_config(environ={"MAILBOT_DB": seeded_db_url, "MAILBOT_SMTP": smtp, "MAILBOT_SECRET": SECRET,
                                  "MAILBOT_FROM": BOT})
    with seeded_sessions.begin() as session:
        create_campaign(session, "c2012", RULES, date(2012, 6, 30))
    summaries = render_campaign(seeded_engine, seeded_sessions, config, "c2012").rendered  # queued for the servers
    assert summaries > 20

    ports = [free_port(), free_port()]
    logs = [tmp_path / "serve-a.log", tmp_path / "serve-b.log"]

    def env(port: int) -> dict:
        # rate-limited, so that the campaign is still being sent when one server dies
        return {"MAILBOT_DB": seeded_db_url, "MAILBOT_LISTEN": f"127.0.0.1:{port}", "MAILBOT_SECRET": SECRET,
                "MAILBOT_FROM": BOT, "MAILBOT_SMTP": smtp, "MAILBOT_RATE_LIMIT": "12",
                "MAILBOT_SMTP_CONNECTIONS": "2"}

    servers = [start_serve(env(port), tmp_path, log) for port, log in zip(ports, logs)]
    try:
        mtas = Mtas(ports, MESSAGES)
        wait_until(lambda: len(mtas.acked) >= MESSAGES // 3 and len(handler.messages) >= 10, 90,
                   "a third of the flood accepted and the campaign under way")
        servers[0].send_signal(signal.SIGKILL)
        servers[0].wait(timeout=30)
        with seeded_engine.connect() as conn:
            left_by_the_dead = conn.scalar(select(func.count()).select_from(Delivery)
                                           .where(Delivery.state.in_(("queued", "sending", "inflight", "deferred"))))
        assert left_by_the_dead > 0, "the campaign was over before the kill: nothing was tested"

        acked = mtas.join()
        assert acked == set(range(MESSAGES))  # the survivor took what the dead one could not
        with seeded_engine.connect() as conn:
            def settled() -> bool:
                inbound = conn.execute(select(InboundMessage.state, func.count()).group_by(InboundMessage.state)).all()
                outbound = conn.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
                conn.rollback()
                return dict(inbound) == {"done": MESSAGES} and set(dict(outbound)) == {"sent"}
            wait_until(settled, 120, "every message processed and every delivery sent by the survivor")
        assert servers[1].poll() is None

        with seeded_engine.connect() as conn:
            rows = conn.execute(select(InboundMessage.sender, InboundMessage.claimed_by)).all()
            answers = conn.scalars(select(AnswerLog.address)).all()
            senders = conn.scalars(select(Delivery.claimed_by).where(Delivery.state == "sent")).all()
        # accepted once, processed once (a second processing finds the day's answer logged and
        # answers nothing more), each server having processed and delivered its share
        assert sorted(sender for sender, _ in rows) == sorted(f"agent{i}@mairie.fr" for i in range(MESSAGES))
        assert sorted(answers) == sorted(sender for sender, _ in rows)
        assert len({owner.split(":")[1] for _, owner in rows}) == 2
        assert len({owner.split(":")[1] for owner in senders if owner}) == 2

        # what the relay received: every summary and every answer to every recipient; a second
        # copy only of a delivery whose outcome was unknown (the dead server sent its final dot)
        expected = deliveries(seeded_engine)
        assert sum(kind == "summary" for _, _, kind in expected.values()) >= summaries
        got = received(handler)
        assert set(got) == set(expected)
        assert {key for key, n in got.items() if n > 1} <= {key for key, (_, uncertain, _) in expected.items()
                                                           if uncertain}
    finally:
        codes, hung = [], []
        for server, log in zip(servers, logs):  # each one stopped, even if another one hangs
            try:
                codes.append(server.wait() if server.poll() is not None else stop_serve(server, log))
            except AssertionError as exc:
                codes.append(None)
                hung.append(str(exc))
        assert not hung, hung
    assert codes[1] == 0, logs[1].read_text()[-3000:]
