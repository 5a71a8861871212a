"""The delivery worker against a real aiosmtpd sink over TCP."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from mailbot.outbound import delivery
from mailbot.clock import aware
from mailbot.config import load_config
from mailbot.outbound.delivery import (
    BACKOFF_SECONDS,
    MAX_ATTEMPTS,
    RateLimiter,
    RelayConnection,
    SentMarks,
    _attempt,
    _claim,
    deliver_pending,
    release_orphaned,
)
from mailbot.outbound.outbox import Recipient, enqueue, new_message_id, parse_return_path, parse_verp
from mailbot.devtools.sink import SinkHandler, free_port, start_sink
from store.campaign_models import Delivery
from tests.lease_support import gone_owner
from store.models import Collectivite, Contact, new_ref


@dataclass
class SessionCountingHandler(SinkHandler):
    """The sink's handler, also keeping each SMTP session it opened (one EHLO per connection: no
    STARTTLS here), so a test can count the connections and drop them."""
    sessions: list = field(default_factory=list)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # what aiosmtpd does itself only when there is no hook
        with self.lock:
            self.sessions.append(server)
        return responses


@pytest.fixture
def counting_sink():
    """A sink as `start_sink` makes it, whose handler counts the connections."""
    handler = SessionCountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), data_size_limit=50 * 1024 * 1024,
                            decode_data=False, enable_SMTPUTF8=True)
    controller.start()
    yield controller, handler
    controller.stop()


def drop_connections(controller: Controller, handler: SessionCountingHandler) -> None:
    """The server closes every open session, as a relay restarting or timing out idle clients does;
    returns once the sockets stopped reading."""
    async def close() -> None:
        for server in handler.sessions:
            if server.transport is not None:
                server.transport.close()

    asyncio.run_coroutine_threadsafe(close(), controller.loop).result(timeout=10)


def delivery_states(Session) -> dict[str, tuple]:
    with Session() as session:
        return {d.recipient: (d.state, d.attempts, d.smtp_code) for d in session.scalars(select(Delivery))}


def config_for(db_url: str, port: int, **extra):
    env = {"MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{port}", "MAILBOT_SECRET": "k"}
    env.update(extra)
    return load_config(environ=env)


def queue_message(Session, recipients: list[str], subject: str = "Bonjour") -> int:
    msg = EmailMessage()
    msg["From"] = "atlas@cncd.example.fr"
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Message-ID"] = new_message_id("atlas@cncd.example.fr")
    msg.set_content("Ligne 1\n.ligne qui commence par un point\nFin\n")
    with Session.begin() as session:
        return enqueue(session, msg, [Recipient(r) for r in recipients], kind="summary").id


def test_a_message_goes_in_one_transaction_to_all_its_recipients_under_a_signed_return_path(
        Session, engine, db_url, sink):
    controller, handler = sink
    config = config_for(db_url, controller.port)
    pair = queue_message(Session, ["a@ville.fr", "b@ville.fr"])
    alone = queue_message(Session, ["c@ville.fr"])
    report = deliver_pending(engine, config)
    assert report.sent == 3 and report.failed == 0
    assert sorted(m.rcpt_tos for m in handler.messages) == [["a@ville.fr", "b@ville.fr"], ["c@ville.fr"]]
    with Session() as session:
        deliveries = {d.recipient: d for d in session.scalars(select(Delivery))}
    assert {d.state for d in deliveries.values()} == {"sent"} and all(d.sent_at for d in deliveries.values())
    to_pair = next(m for m in handler.messages if len(m.rcpt_tos) == 2)
    to_alone = next(m for m in handler.messages if len(m.rcpt_tos) == 1)
    # several recipients: the return path names the message; one: it names the delivery itself
    assert parse_return_path("k", to_pair.mail_from) == ("message", pair)
    assert parse_return_path("k", to_alone.mail_from) == ("delivery", deliveries["c@ville.fr"].id)
    assert parse_verp("k", to_alone.mail_from) == deliveries["c@ville.fr"].id
    # signed: another secret, or another id with the same MAC, is not ours
    assert parse_return_path("autre", to_pair.mail_from) is None
    assert parse_return_path("k", to_pair.mail_from.replace(f"+m-{pair:x}-", f"+m-{alone:x}-")) is None
    for message in handler.messages:
        # dot-stuffing was undone by the server: the body arrives intact
        assert b"\n.ligne qui commence par un point" in message.content
        assert b"..ligne" not in message.content
    # nothing left to send: running again sends nothing
    assert deliver_pending(engine, config).attempted == 0
    assert len(handler.messages) == 2


def test_a_recipient_refused_for_now_is_retried_alone_while_the_others_are_sent(Session, engine, db_url, sink):
    controller, handler = sink
    handler.refuse("lent@ville.fr", "452 4.2.2 Mailbox full", times=1)
    config = config_for(db_url, controller.port)
    queue_message(Session, ["ok@ville.fr", "lent@ville.fr"])
    first = deliver_pending(engine, config)
    assert (first.sent, first.deferred) == (1, 1)
    assert [m.rcpt_tos for m in handler.messages] == [["ok@ville.fr"]]
    with Session.begin() as session:
        states = {d.recipient: (d.state, d.smtp_code) for d in session.scalars(select(Delivery))}
        assert states == {"ok@ville.fr": ("sent", 250), "lent@ville.fr": ("deferred", 452)}
        session.execute(update(Delivery).values(next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    second = deliver_pending(engine, config)
    assert second.sent == 1
    assert [m.rcpt_tos for m in handler.messages] == [["ok@ville.fr"], ["lent@ville.fr"]]


def test_a_message_is_marked_sent_for_all_its_recipients_or_for_none(Session, engine, db_url, sink):
    """If another worker took one recipient of the transaction meanwhile, the final dot is never
    sent: neither recipient gets the message from us, and the other claim stays its owner's."""
    controller, handler = sink
    config = config_for(db_url, controller.port)
    queue_message(Session, ["a@ville.fr", "b@ville.fr"])
    with engine.connect() as db:
        [transaction] = _claim(db, 10, None, None)
    taken = transaction.deliveries[1]
    with Session.begin() as session:  # released as interrupted, then re-claimed by another worker
        session.execute(update(Delivery).where(Delivery.id == taken.delivery_id)
                        .values(claimed_at=datetime.now(timezone.utc) + timedelta(seconds=5)))
    connection = RelayConnection(config.smtp_target)
    try:
        with engine.connect() as db:
            outcomes = _attempt(connection, config, db, SentMarks(db), transaction)
    finally:
        connection.close()
    assert [o.state for o in outcomes] == ["lost", "lost"]
    assert handler.messages == []
    with Session() as session:
        assert sorted(session.scalars(select(Delivery.state))) == ["sending", "sending"]


def test_temporary_failure_is_retried_with_backoff(Session, engine, db_url, sink):
    controller, handler = sink
    handler.refuse("lent@ville.fr", "451 4.3.0 Try again later", times=1)
    config = config_for(db_url, controller.port)
    queue_message(Session, ["lent@ville.fr"])
    first = deliver_pending(engine, config)
    assert first.deferred == 1 and not handler.messages
    with Session() as session:
        delivery = session.scalar(select(Delivery))
        assert delivery.state == "deferred" and delivery.smtp_code == 451 and delivery.attempts == 1
    # not due yet: nothing happens
    assert deliver_pending(engine, config).attempted == 0
    with Session.begin() as session:
        session.execute(update(Delivery).values(next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    second = deliver_pending(engine, config)
    assert second.sent == 1 and len(handler.messages) == 1


def test_successive_temporary_failures_back_off_by_the_schedule_then_the_recipient_fails(
        Session, engine, db_url, sink, monkeypatch):
    """Each 4xx pushes the next attempt BACKOFF_SECONDS[attempt] later (read from the stored
    next-attempt time, on an injected clock), and the MAX_ATTEMPTS-th attempt fails the recipient."""
    controller, handler = sink
    handler.refuse("lent@ville.fr", "451 4.3.0 Try again later")  # every time
    config = config_for(db_url, controller.port)
    queue_message(Session, ["lent@ville.fr"])
    clock = [datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)]
    monkeypatch.setattr(delivery, "utcnow", lambda: clock[0])
    waits = []
    for attempt in range(1, MAX_ATTEMPTS):
        assert deliver_pending(engine, config, connections=1).deferred == 1
        with Session() as session:
            stored = session.scalar(select(Delivery))
            assert (stored.state, stored.attempts, stored.smtp_code) == ("deferred", attempt, 451)
            due = aware(stored.next_attempt_at)
        waits.append((due - clock[0]).total_seconds())
        clock[0] = due - timedelta(seconds=1)  # a second early: not due yet
        assert deliver_pending(engine, config, connections=1).attempted == 0
        clock[0] = due
    assert waits == list(BACKOFF_SECONDS) and waits == sorted(set(waits))  # the schedule, growing
    last = deliver_pending(engine, config, connections=1)
    assert (last.failed, last.deferred) == (1, 0), "the run reports what it recorded: a failure, not a deferral"
    with Session() as session:
        stored = session.scalar(select(Delivery))
    assert (stored.state, stored.attempts, stored.smtp_code) == ("failed", MAX_ATTEMPTS, 451)
    assert stored.detail.startswith(f"abandon après {MAX_ATTEMPTS} tentatives") and "Try again later" in stored.detail
    clock[0] += timedelta(days=30)  # failed for good: never tried again
    assert deliver_pending(engine, config, connections=1).attempted == 0
    assert handler.messages == []


def test_permanent_failure_is_recorded_per_recipient(Session, engine, db_url, sink):
    controller, handler = sink
    handler.refuse("inconnu@ville.fr", "550 5.1.1 No such user")
    config = config_for(db_url, controller.port)
    with Session.begin() as session:
        coll = Collectivite(code="COM-35238", kind="commune", insee="35238", name="Rennes", in_atlas=True)
        session.add(coll)
        session.flush()
        for address in ("Inconnu@Ville.fr", "ok@ville.fr"):
            session.add(Contact(ref=new_ref("CT"), collectivite_id=coll.id, role="cadre", first_name="Marie",
                                last_name="Dupont", title="Chargée de mission", email=address))
    queue_message(Session, ["inconnu@ville.fr", "ok@ville.fr"])
    report = deliver_pending(engine, config)
    assert report.sent == 1 and report.failed == 1
    assert [m.rcpt_tos for m in handler.messages] == [["ok@ville.fr"]]
    with Session() as session:
        states = {d.recipient: (d.state, d.smtp_code, d.detail) for d in session.scalars(select(Delivery))}
    assert states["ok@ville.fr"][0] == "sent"
    assert states["inconnu@ville.fr"][:2] == ("failed", 550)
    assert "No such user" in states["inconnu@ville.fr"][2]
    # refused at RCPT: the address, as a bounce would have it, is no longer usable
    with Session() as session:
        contacts = {c.email: (c.email_state, c.email_state_reason) for c in session.scalars(select(Contact))}
    assert contacts["ok@ville.fr"] == ("ok", None)
    assert contacts["Inconnu@Ville.fr"][0] == "bouncing" and "550" in contacts["Inconnu@Ville.fr"][1]


def test_a_message_the_relay_refuses_at_data_marks_no_address(Session, engine, db_url, sink):
    """A refusal of the message (content, size) says nothing of the addresses: they stay usable."""
    controller, handler = sink
    handler.refuse_data("554 5.7.1 Message refused")
    config = config_for(db_url, controller.port)
    with Session.begin() as session:
        coll = Collectivite(code="COM-35238", kind="commune", insee="35238", name="Rennes", in_atlas=True)
        session.add(coll)
        session.flush()
        session.add(Contact(ref=new_ref("CT"), collectivite_id=coll.id, role="cadre", first_name="Marie",
                            last_name="Dupont", title="Chargée de mission", email="a@ville.fr"))
    queue_message(Session, ["a@ville.fr"])
    assert deliver_pending(engine, config).failed == 1
    with Session() as session:
        assert session.scalar(select(Delivery.smtp_code)) == 554
        assert session.scalar(select(Contact.email_state)) == "ok"


def test_relay_down_defers_instead_of_losing(Session, engine, db_url):
    from mailbot.devtools.sink import free_port

    config = config_for(db_url, free_port())
    queue_message(Session, ["a@ville.fr"])
    report = deliver_pending(engine, config)
    assert report.deferred == 1
    with Session() as session:
        assert session.scalar(select(Delivery.state)) == "deferred"


def test_interrupted_claims_are_released_and_a_stale_worker_cannot_send(Session, engine, db_url, sink):
    controller, handler = sink
    config = config_for(db_url, controller.port)
    queue_message(Session, ["a@ville.fr"])
    # a worker of this host claimed it and died before the final dot
    with Session.begin() as session:
        session.execute(update(Delivery).values(state="sending", claimed_at=datetime.now(timezone.utc),
                                                claimed_by=gone_owner()))
    assert deliver_pending(engine, config).attempted == 0
    assert release_orphaned(engine) == 1
    assert deliver_pending(engine, config).sent == 1
    assert len(handler.messages) == 1
    with Session() as session:
        assert session.scalar(select(Delivery.uncertain)) is False  # the relay never had it


def test_a_discarding_sink_counts_the_messages_it_accepts_and_keeps_none(Session, engine, db_url):
    """The benchmarks' sink (`python -m mailbot.devtools.sink --discard`): 250 to every message, nothing kept."""
    controller, handler = start_sink(discard=True)
    try:
        queue_message(Session, ["a@ville.fr", "b@ville.fr"])
        queue_message(Session, ["c@ville.fr"])
        assert deliver_pending(engine, config_for(db_url, controller.port)).sent == 3
    finally:
        controller.stop()
    assert (handler.count, handler.messages) == (2, [])


def test_a_store_connection_lost_between_claims_is_reopened_and_nothing_is_lost(
        Session, engine, db_url, sink, monkeypatch):
    """Each delivery thread keeps one store connection for its run: if the server drops it (a
    PostgreSQL restart), the next claim fails, the thread waits, reconnects and sends."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server-side disconnect needs PostgreSQL")
    from sqlalchemy import text

    from mailbot.outbound import delivery

    controller, handler = sink
    queue_message(Session, ["a@ville.fr", "b@ville.fr"])
    real_claim, dropped = delivery._claim, []

    def claim_after_a_disconnect(db, *args):
        if not dropped:
            pid = db.execute(text("select pg_backend_pid()")).scalar()
            db.rollback()
            with engine.connect() as other:
                other.execute(text(f"select pg_terminate_backend({pid})"))
                other.commit()
            dropped.append(pid)
        return real_claim(db, *args)

    monkeypatch.setattr(delivery, "_claim", claim_after_a_disconnect)
    report = deliver_pending(engine, config_for(db_url, controller.port))
    assert dropped and report.sent == 2
    assert [m.rcpt_tos for m in handler.messages] == [["a@ville.fr", "b@ville.fr"]]
    with Session() as session:
        assert set(session.scalars(select(Delivery.state))) == {"sent"}


def test_the_messages_of_one_run_go_over_one_smtp_connection(Session, engine, db_url, counting_sink):
    controller, handler = counting_sink
    for n in range(4):
        queue_message(Session, [f"r{n}@ville.fr"])
    queue_message(Session, ["a@ville.fr", "b@ville.fr"])
    report = deliver_pending(engine, config_for(db_url, controller.port), connections=1)
    assert report.sent == 6 and len(handler.messages) == 5
    assert len(handler.sessions) == 1


def test_a_connection_the_relay_closed_between_two_messages_is_opened_again_for_the_next(
        Session, engine, db_url, counting_sink):
    """The relay closes an idle connection (its timeout): the next message finds it closed at MAIL
    FROM, before anything of it was sent, and goes at once over a new connection."""
    controller, handler = counting_sink
    config = config_for(db_url, controller.port)
    for n in range(3):
        queue_message(Session, [f"r{n}@ville.fr"])
    dropped = []

    def after_each_message(count: int) -> None:
        if not dropped:
            drop_connections(controller, handler)
            dropped.append(count)

    report = deliver_pending(engine, config, connections=1, on_progress=after_each_message)
    assert dropped and (report.sent, report.deferred, report.failed) == (3, 0, 0)
    assert len(handler.sessions) == 2
    assert [m.rcpt_tos for m in handler.messages] == [["r0@ville.fr"], ["r1@ville.fr"], ["r2@ville.fr"]]
    assert {state for state, _, _ in delivery_states(Session).values()} == {"sent"}


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it (or the test moves it)."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_waits_keep_sending_at_or_under_the_rate_and_no_longer():
    rate = 4.0
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    # (work done before asking, envelopes of the transaction): a burst, slow work, a long idle time
    plan = [(0, 1), (0, 1), (0, 2), (0.1, 1), (0, 3), (0.9, 1), (10.0, 1), (0, 2), (0, 1)]
    starts, earliest = [], None
    for work, envelopes in plan:
        clock.now += work
        asked = clock.now
        limiter.wait(envelopes)
        starts.append(clock.now)
        # it waits exactly until the previous envelopes' slots are over, or not at all
        expected = asked if earliest is None else max(asked, earliest)
        assert clock.now == pytest.approx(expected)
        earliest = clock.now + envelopes / rate
    for i in range(len(plan)):
        for j in range(i + 1, len(plan)):
            # the envelopes started from i up to before j took at least their share of time
            sent = sum(envelopes for _, envelopes in plan[i:j])
            assert sent <= rate * (starts[j] - starts[i]) + 1e-9
    # after the idle time: the first goes at once, the next waits its slot (no credit saved up)
    assert starts[6] == pytest.approx(starts[5] + 10.0 + 0.0) and starts[7] == pytest.approx(starts[6] + 1 / rate)
    # no limit: never waits
    unlimited = FakeClock()
    free = RateLimiter(0, clock=unlimited, sleep=unlimited.sleep)
    for _ in range(100):
        free.wait(3)
    assert unlimited.sleeps == []


def test_delivery_paces_envelopes_by_the_rate_limit_setting(Session, engine, db_url, sink, monkeypatch):
    """MAILBOT_RATE_LIMIT (`rate_limit`, envelopes a second): each transaction waits for the slots of
    the envelopes before it (checked on a fake clock: no time really passes)."""
    controller, handler = sink
    clock, limiters = FakeClock(), []

    class FakeClockLimiter(RateLimiter):
        def __init__(self, per_second: float):
            super().__init__(per_second, clock=clock, sleep=clock.sleep)
            limiters.append(per_second)

    monkeypatch.setattr(delivery, "RateLimiter", FakeClockLimiter)
    for recipients in (["a@ville.fr"], ["b@ville.fr", "c@ville.fr"], ["d@ville.fr"], ["e@ville.fr"]):
        queue_message(Session, recipients)
    report = deliver_pending(engine, config_for(db_url, controller.port, MAILBOT_RATE_LIMIT="2"), connections=1)
    assert report.sent == 5 and len(handler.messages) == 4
    assert limiters == [2.0]
    # 1 envelope, then 2, then 1 before the last message: 0.5 s, 1 s, 0.5 s at 2 a second
    assert clock.sleeps == pytest.approx([0.5, 1.0, 0.5])
