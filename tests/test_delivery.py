"""The delivery worker against a real aiosmtpd sink over TCP."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update

from mailbot.config import load_config
from mailbot.delivery import RelayConnection, _attempt, _claim, deliver_pending, release_interrupted
from mailbot.outbox import Recipient, enqueue, new_message_id, parse_return_path, parse_verp
from mailbot.sink import start_sink
from store.campaign_models import Delivery


@pytest.fixture
def sink():
    controller, handler = start_sink()
    yield controller, handler
    controller.stop()


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
            outcomes = _attempt(connection, config, db, transaction)
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


def test_permanent_failure_is_recorded_per_recipient(Session, engine, db_url, sink):
    controller, handler = sink
    handler.refuse("inconnu@ville.fr", "550 5.1.1 No such user")
    config = config_for(db_url, controller.port)
    queue_message(Session, ["inconnu@ville.fr", "ok@ville.fr"])
    report = deliver_pending(engine, config)
    assert report.sent == 1 and report.failed == 1
    assert [m.rcpt_tos for m in handler.messages] == [["ok@ville.fr"]]
    with Session() as session:
        states = {d.recipient: (d.state, d.smtp_code, d.detail) for d in session.scalars(select(Delivery))}
    assert states["ok@ville.fr"][0] == "sent"
    assert states["inconnu@ville.fr"][:2] == ("failed", 550)
    assert "No such user" in states["inconnu@ville.fr"][2]


def test_relay_down_defers_instead_of_losing(Session, engine, db_url):
    from mailbot.sink import free_port

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
    # a worker claimed it and died before the final dot
    with Session.begin() as session:
        session.execute(update(Delivery).values(state="sending", claimed_at=datetime.now(timezone.utc)))
    assert deliver_pending(engine, config).attempted == 0
    assert release_interrupted(engine) == 1
    assert deliver_pending(engine, config).sent == 1
    assert len(handler.messages) == 1


def test_a_discarding_sink_counts_the_messages_it_accepts_and_keeps_none(Session, engine, db_url):
    """The benchmarks' sink (`python -m mailbot.sink --discard`): 250 to every message, nothing kept."""
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

    from mailbot import delivery

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
