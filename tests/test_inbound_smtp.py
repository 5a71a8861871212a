"""The SMTP edge over real TCP: 250 only after the commit, 552 over the size limit, 451 when the store
is down (never an exception's text), concurrency, SMTPUTF8/8BITMIME, and slow stores."""
from __future__ import annotations

import smtplib
import threading
import time

import pytest
from sqlalchemy import func, select, text

from mailbot.inbound.queue import store_arrivals
from mailbot.inbound.receive import GroupCommit, start_listener
from store.inbound_models import InboundMessage
from tests.inbound_support import BOT, free_port

LIMIT = 25 * 1024 * 1024


def rfc5322(subject: str = "Bonjour", extra: str = "", body: str = "Bonjour,\r\nVoici ma question.\r\n") -> bytes:
    return (f"From: Marie Dupont <marie@rennes.fr>\r\nTo: {BOT}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}.{time.monotonic_ns()}@rennes.fr>\r\n{extra}\r\n{body}").encode()


@pytest.fixture
def listener(engine):
    def start(store=None, **options):
        controller = start_listener(store or GroupCommit(lambda arrivals: store_arrivals(engine, arrivals)),
                                    host="127.0.0.1", port=free_port(), max_size=options.pop("max_size", LIMIT), **options)
        started.append(controller)
        return controller

    started = []
    yield start
    for controller in started:
        controller.stop()


def rows(Session) -> list[InboundMessage]:
    with Session() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def test_message_is_committed_before_250_with_its_exact_bytes_and_envelope(listener, Session):
    controller = listener()
    raw = rfc5322(extra="X-MailFrom: attaquant@pirate.example\r\nX-Peer: 6.6.6.6\r\n")
    with smtplib.SMTP("127.0.0.1", controller.port) as client:
        client.ehlo("mx.rennes.fr")
        client.mail("Marie@Rennes.fr")
        client.rcpt(BOT)
        code, reply = client.data(raw)
    assert (code, reply) == (250, b"2.0.0 Message recu, merci")
    [row] = rows(Session)  # already there: the 250 came after the commit
    assert row.raw == raw and row.state == "queued" and row.source == "smtp"
    assert (row.envelope_from, row.envelope_to, row.sender) == ("Marie@Rennes.fr", [BOT], "Marie@Rennes.fr")
    assert row.peer == "127.0.0.1" and row.message_id.startswith("<Bonjour.")


def test_over_the_size_limit_is_refused_with_552_and_the_server_carries_on(listener, Session):
    controller = listener()
    big = rfc5322(body="x" * 76 + "\r\n") + (b"y" * 998 + b"\r\n") * (30 * 1024)  # 30 MB, no SIZE declared
    with smtplib.SMTP("127.0.0.1", controller.port, timeout=60) as client:
        client.ehlo()
        client.mail("marie@rennes.fr")
        client.rcpt(BOT)
        code, reply = client.data(big)
        assert code == 552
        assert client.sendmail("marie@rennes.fr", [BOT], rfc5322("Petit")) == {}
    small = listener(max_size=10_000)
    with smtplib.SMTP("127.0.0.1", small.port) as client:  # SIZE declared: refused at MAIL FROM
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("marie@rennes.fr", [BOT], rfc5322(body="z" * 20_000))
    assert refused.value.smtp_code == 552
    assert [row.subject for row in rows(Session)] == ["Petit"]


def test_store_down_answers_451_without_the_exception_and_recovers(listener, engine, Session):
    controller = listener()
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE inbound_message RENAME TO inbound_message_away"))
    try:
        with smtplib.SMTP("127.0.0.1", controller.port) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("marie@rennes.fr", [BOT], rfc5322("Perdu"))
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbound_message_away RENAME TO inbound_message"))
    assert refused.value.smtp_code == 451
    assert refused.value.smtp_error == b"4.3.0 Erreur temporaire de stockage, reessayez plus tard"
    with smtplib.SMTP("127.0.0.1", controller.port) as client:
        assert client.sendmail("marie@rennes.fr", [BOT], rfc5322("Retour")) == {}
    assert [row.subject for row in rows(Session)] == ["Retour"]


def test_full_disk_answers_451(tmp_path):
    """SQLite's own « database or disk is full », provoked by capping the file at its current size."""
    from sqlalchemy import event

    from store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'full.sqlite'}")
    upgrade(engine)
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    engine.dispose()

    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    controller = start_listener(GroupCommit(lambda arrivals: store_arrivals(engine, arrivals)),
                                host="127.0.0.1", port=free_port(), max_size=LIMIT)
    try:
        with smtplib.SMTP("127.0.0.1", controller.port) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("marie@rennes.fr", [BOT], rfc5322(body="x" * 70 + "\r\n") * 3000)
    finally:
        controller.stop()
        engine.dispose()
    assert refused.value.smtp_code == 451 and b"full" not in refused.value.smtp_error


def test_many_concurrent_sessions(listener, Session):
    controller = listener()
    failures: list[Exception] = []

    def client(number: int):
        try:
            with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
                for index in range(25):
                    smtp.sendmail(f"agent{number}@ville.fr", [BOT], rfc5322(f"c{number} m{index}"))
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with Session() as session:
        assert session.scalar(select(func.count(InboundMessage.id))) == 200


def test_smtputf8_and_8bitmime(listener, Session):
    controller = listener()
    raw = ("From: Élodie Lefèvre <élodie@mairie-évry.fr>\r\nTo: atlas@cncd.example.fr\r\n"
           "Subject: Coopération avec Thiès\r\nMessage-ID: <utf8.1@mairie-évry.fr>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "Déjà mis à jour.\r\n").encode()
    with smtplib.SMTP("127.0.0.1", controller.port) as client:
        client.ehlo()
        assert client.has_extn("smtputf8") and client.has_extn("8bitmime")
        client.sendmail("élodie@mairie-évry.fr", [BOT], raw, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [row] = rows(Session)
    assert row.raw == raw and row.envelope_from == "élodie@mairie-évry.fr"
    assert row.subject == "Coopération avec Thiès"


def test_a_slow_store_is_not_cut_by_the_command_timeout(listener, engine, Session):
    store = GroupCommit(lambda arrivals: store_arrivals(engine, arrivals))

    def slow(arrival):
        time.sleep(1.5)  # three times the server's idle timeout
        return store(arrival)

    controller = listener(slow, timeout=0.5)
    with smtplib.SMTP("127.0.0.1", controller.port, timeout=10) as client:
        assert client.sendmail("marie@rennes.fr", [BOT], rfc5322("Lent")) == {}
        time.sleep(1.0)  # the idle timeout still applies between commands
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    assert [row.subject for row in rows(Session)] == ["Lent"]
