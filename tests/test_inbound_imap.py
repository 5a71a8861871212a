"""The IMAP poller against a real Dovecot started here on a loopback port: store first, mark after the
commit, survive a server restart and a UIDVALIDITY change, and process a message once even when it
also came by SMTP."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import smtplib
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlalchemy import select, text

from mailbot.config import parse_imap_url
from mailbot.inbound.imap_poll import PROCESSED_FOLDER, PROCESSED_KEYWORD, ImapPoller
from mailbot.inbound.queue import process_pending, store_arrivals
from mailbot.inbound.receive import GroupCommit, start_listener
from store.inbound_models import ImapState, InboundMessage
from tests.inbound_support import BOT, free_port, mail, make_config

DOVECOT = Path("/usr/sbin/dovecot")


def _skip_or_fail(reason: str) -> None:
    """A laptop without Dovecot skips; CI (MAILBOT_REQUIRE_DOVECOT=1, set by .ci/run) must run these."""
    if os.environ.get("MAILBOT_REQUIRE_DOVECOT") == "1":
        pytest.fail(reason)
    pytest.skip(reason)
USER, PASSWORD = "atlas", "secret-imap"

CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = {uid}
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """A throwaway Dovecot: one user, maildir under a temporary directory, IMAP only, no TLS."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.conf = root / "dovecot.conf"
        self.process: subprocess.Popen | None = None
        if os.geteuid() == 0:
            # Dovecot never runs mail processes as root: the mail belongs to nobody.
            nobody = pwd.getpwnam("nobody")
            uid, gid, login_user, internal_user = nobody.pw_uid, nobody.pw_gid, "dovenull", "dovecot"
        else:
            me = pwd.getpwuid(os.geteuid())
            uid, gid, login_user, internal_user = me.pw_uid, me.pw_gid, me.pw_name, me.pw_name
        for name in ("mail", "home"):
            (root / name).mkdir()
            if os.geteuid() == 0:
                os.chown(root / name, uid, gid)
        self.conf.write_text(CONF.format(root=root, port=self.port, uid=uid, gid=gid, login_user=login_user,
                                         internal_user=internal_user, password=PASSWORD))

    def start(self) -> None:
        # Its own process group: stopping it also ends the imap processes serving open connections,
        # as a real server restart does.
        self.process = subprocess.Popen([str(DOVECOT), "-F", "-c", str(self.conf)], start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                self.client().logout()
                return
            except OSError:
                time.sleep(0.05)
        log = (self.root / "dovecot.log").read_text() if (self.root / "dovecot.log").exists() else ""
        self.stop()
        _skip_or_fail(f"the test Dovecot did not start: {log[-500:]}")

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # imap processes that outlived their master
            except ProcessLookupError:
                pass
        self.process = None

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=5)
        client.login(USER, PASSWORD)
        return client

    def url(self, folder: str = "INBOX") -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{folder}"

    def append(self, folder: str, raw: bytes) -> None:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)
        finally:
            client.logout()

    def count(self, folder: str, criteria=("ALL",)) -> int:
        client = self.client()
        try:
            if not client.folder_exists(folder):
                return 0
            client.select_folder(folder, readonly=True)
            return len(client.search(list(criteria)))
        finally:
            client.logout()


@pytest.fixture
def dovecot():
    if not DOVECOT.exists():
        _skip_or_fail("Dovecot is not installed (apt-get install dovecot-imapd): the IMAP tests need a real server")
    root = Path(tempfile.mkdtemp(prefix="mailbot-dovecot-"))
    root.chmod(0o755)  # Dovecot's unprivileged processes must reach their sockets and the mail
    server = Dovecot(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def delivered(raw: bytes, sender: str = "marie@rennes.fr") -> bytes:
    """How the mailbox's MTA stores a message: trace headers on top, LF line endings."""
    return (f"Return-Path: <{sender}>\nDelivered-To: {BOT}\nReceived: from mx.rennes.fr by mx.cncd.example.fr\n"
            .encode() + raw.replace(b"\r\n", b"\n"))


def poller_for(engine, dovecot: Dovecot, folder: str = "INBOX", **options) -> ImapPoller:
    return ImapPoller(engine, parse_imap_url(dovecot.url(folder)), max_size=25 * 1024 * 1024,
                      backoff=(0.1, 0.2, 0.5), **options)


def stored(Session) -> list[InboundMessage]:
    with Session() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def wait_for(predicate, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_new_messages_are_stored_then_moved(engine, Session, dovecot):
    for index in range(3):
        dovecot.append("INBOX", delivered(mail(sender="marie@rennes.fr", subject=f"Message {index}")))
    poller = poller_for(engine, dovecot)
    poller.connect()
    try:
        report = poller.poll_once()
    finally:
        poller.disconnect()
    assert (report.stored, report.marked) == (3, 3)
    assert dovecot.count("INBOX") == 0 and dovecot.count(PROCESSED_FOLDER) == 3
    rows = stored(Session)
    assert [row.subject for row in rows] == ["Message 0", "Message 1", "Message 2"]
    assert {(row.source, row.envelope_from, tuple(row.envelope_to)) for row in rows} == {("imap", "marie@rennes.fr", (BOT,))}
    assert rows[0].imap_ref.startswith("INBOX;UIDVALIDITY=") and rows[0].raw.startswith(b"Return-Path:")


def test_nothing_is_marked_before_the_commit(engine, Session, dovecot):
    dovecot.append("INBOX", delivered(mail(sender="marie@rennes.fr", subject="Important")))
    poller = poller_for(engine, dovecot)
    poller.connect()
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbound_message RENAME TO inbound_message_away"))
        with pytest.raises(Exception):
            poller.poll_once()
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE inbound_message_away RENAME TO inbound_message"))
        assert dovecot.count("INBOX") == 1 and dovecot.count(PROCESSED_FOLDER) == 0
        poller.disconnect()
        poller.connect()
        assert poller.poll_once().stored == 1
    finally:
        poller.disconnect()
    assert dovecot.count("INBOX") == 0 and [row.subject for row in stored(Session)] == ["Important"]


def test_a_message_stored_but_not_yet_marked_is_only_marked(engine, Session, dovecot, monkeypatch):
    dovecot.append("INBOX", delivered(mail(sender="marie@rennes.fr", subject="Coupure")))
    poller = poller_for(engine, dovecot)
    poller.connect()
    monkeypatch.setattr(poller, "_mark", lambda uid: (_ for _ in ()).throw(ConnectionError("coupure")))
    with pytest.raises(ConnectionError):
        poller.poll_once()
    poller.disconnect()
    monkeypatch.undo()
    poller.connect()
    try:
        report = poller.poll_once()
    finally:
        poller.disconnect()
    assert (report.stored, report.duplicates, report.marked) == (0, 0, 1)  # known by its UID: no second fetch
    assert len(stored(Session)) == 1 and dovecot.count("INBOX") == 0


def test_keyword_instead_of_move_when_no_processed_folder(engine, Session, dovecot):
    dovecot.append("INBOX", delivered(mail(sender="marie@rennes.fr", subject="Drapeau")))
    poller = poller_for(engine, dovecot, processed_folder=None)
    poller.connect()
    try:
        assert poller.poll_once().stored == 1
        assert poller.poll_once().stored == 0  # flagged: not read again
    finally:
        poller.disconnect()
    assert dovecot.count("INBOX", ["KEYWORD", PROCESSED_KEYWORD]) == 1


@pytest.mark.parametrize("use_idle", [True, False], ids=["idle", "poll"])
def test_survives_a_server_restart_and_a_uidvalidity_change(engine, Session, dovecot, use_idle):
    folder = "Atlas"
    dovecot.append(folder, delivered(mail(sender="a@rennes.fr", subject="Avant")))
    stop = threading.Event()
    # A short IDLE period: a recreated folder is only noticed when the poller selects it again.
    poller = poller_for(engine, dovecot, folder, use_idle=use_idle, poll_seconds=0.2, idle_seconds=1.0)
    thread = threading.Thread(target=poller.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: len(stored(Session)) == 1)
        dovecot.stop()
        dovecot.start()
        dovecot.append(folder, delivered(mail(sender="a@rennes.fr", subject="Après redémarrage")))
        wait_for(lambda: len(stored(Session)) == 2)
        # Recreating the folder gives it a new UIDVALIDITY: its UIDs start again at 1.
        client = dovecot.client()
        client.delete_folder(folder)
        client.create_folder(folder)
        client.append(folder, delivered(mail(sender="a@rennes.fr", subject="Nouvelle UIDVALIDITY")))
        client.logout()
        wait_for(lambda: len(stored(Session)) == 3)
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    assert [row.subject for row in stored(Session)] == ["Avant", "Après redémarrage", "Nouvelle UIDVALIDITY"]
    with Session() as session:
        assert len(session.scalars(select(ImapState.uidvalidity)).all()) == 2
    wait_for(lambda: dovecot.count(folder) == 0)


def test_same_message_by_smtp_and_imap_is_processed_once(engine, Session, db_url, dovecot):
    controller = start_listener(GroupCommit(lambda arrivals: store_arrivals(engine, arrivals)),
                                host="127.0.0.1", port=free_port(), max_size=1024 * 1024)
    raw = mail(sender="marie@rennes.fr", subject="AIDE").replace(b"\n", b"\r\n")
    try:
        with smtplib.SMTP("127.0.0.1", controller.port) as client:
            client.sendmail("marie@rennes.fr", [BOT], raw)
    finally:
        controller.stop()
    dovecot.append("INBOX", delivered(raw))
    poller = poller_for(engine, dovecot)
    poller.connect()
    try:
        report = poller.poll_once()
    finally:
        poller.disconnect()
    assert (report.stored, report.duplicates, report.marked) == (0, 1, 1)
    assert process_pending(engine, make_config(db_url)) == 1
    [row] = stored(Session)
    assert (row.source, row.kind, row.state) == ("smtp", "command", "done")
