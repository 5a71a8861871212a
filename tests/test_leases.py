"""Claims that belong to nobody are released while `mailbot serve` runs, not only when it starts:
those of a process of this host that died (at the next sweep), and those a store outage left behind
in a live server (when their lease expires). Each message is still processed exactly once."""
from __future__ import annotations

import smtplib
import sqlite3
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from mailbot.clock import utcnow
from mailbot.inbound.queue import Arrival, insert_arrival
from store.db import make_engine, upgrade
from store.inbound_models import AnswerLog, InboundMessage
from tests.conftest import _pg_admin, _pg_url_for, _skip_or_fail_pg
from tests.inbound_support import BOT, SECRET, free_port, start_serve, stop_serve
from tests.lease_support import gone_owner


def aide(index: int) -> bytes:
    return (f"From: Agent {index} <agent{index}@mairie.fr>\r\nTo: {BOT}\r\nSubject: AIDE\r\n"
            f"Message-ID: <lease-{index}@mairie.fr>\r\n\r\nAide svp\r\n").encode()


class Mta:
    """Sending MTAs: each message is retried until the server answers 250, as real ones do."""

    def __init__(self, port: int, count: int, clients: int = 4):
        self.port, self.acked, self.lock = port, set(), threading.Lock()
        self.threads = [threading.Thread(target=self._push, args=(list(range(k, count, clients)),), daemon=True)
                        for k in range(clients)]
        for thread in self.threads:
            thread.start()

    def _push(self, indexes: list[int]) -> None:
        for index in indexes:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
                        client.sendmail(f"agent{index}@mairie.fr", [BOT], aide(index))
                    with self.lock:
                        self.acked.add(index)
                    break
                except (smtplib.SMTPException, OSError):
                    time.sleep(0.2)

    def join(self) -> set[int]:
        for thread in self.threads:
            thread.join()
        return self.acked


def serve_env(url: str, port: int, lease: float) -> dict:
    return {"MAILBOT_DB": url, "MAILBOT_LISTEN": f"127.0.0.1:{port}", "MAILBOT_SECRET": SECRET,
            "MAILBOT_FROM": BOT, "MAILBOT_SMTP": f"smtp://127.0.0.1:{free_port()}",
            "MAILBOT_LEASE_SECONDS": str(lease)}


def states(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(InboundMessage.id, InboundMessage.state)).all())


def wait_all_done(engine, expected: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = states(engine)
        if len(now) == expected and set(now.values()) == {"done"}:
            return
        time.sleep(0.2)
    raise AssertionError(f"not all processed: {sorted(set(states(engine).values()))}, "
                         f"{sum(s == 'done' for s in states(engine).values())}/{expected}")


def assert_processed_once(engine, acked: set[int]) -> None:
    with engine.connect() as conn:
        senders = conn.scalars(select(InboundMessage.sender)).all()
        # a second processing would have found the day's answer logged and answered nothing
        answers = conn.scalars(select(AnswerLog.address)).all()
    assert sorted(senders) == sorted(f"agent{i}@mairie.fr" for i in acked)
    assert sorted(answers) == sorted(senders)


# --- a store that can be taken away -----------------------------------------------------------------

@contextmanager
def _sqlite_full_disk(tmp_path: Path):
    """A SQLite store on a small filesystem of its own; the outage fills that filesystem."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem for a full disk here: {mounted.stderr.decode().strip()}")
    try:
        filler = disk / "filler"

        @contextmanager
        def outage():
            # the WAL is emptied first: a WAL that keeps its size is written over in place, which a
            # full disk does not stop
            checkpoint = sqlite3.connect(disk / "atlas.sqlite", timeout=30, isolation_level=None)
            checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            checkpoint.close()
            # unbuffered: a buffer half written when the disk filled would raise again on close
            with filler.open("wb", buffering=0) as out:  # until the disk is full
                try:
                    while True:
                        out.write(b"\0" * 65536)
                except OSError:
                    pass
            try:
                yield
            finally:
                filler.unlink()

        yield f"sqlite:///{disk / 'atlas.sqlite'}", outage
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@contextmanager
def _postgresql_cut_off():
    """A database of its own; the outage kills every connection to it and refuses new ones."""
    _skip_or_fail_pg()
    name = f"atlas_lease_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    @contextmanager
    def outage():
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                         {"name": name})
        try:
            yield
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))

    try:
        yield _pg_url_for(name), outage
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fragile_store(request, tmp_path):
    """(url of a migrated store, outage): inside `with outage():` the store is away."""
    maker = _sqlite_full_disk(tmp_path) if request.param == "sqlite" else _postgresql_cut_off()
    with maker as (url, outage):
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url, outage


# --- tests ----------------------------------------------------------------------------------------------

MESSAGES = 300
LEASE = 6.0


def test_messages_a_store_outage_left_processing_are_processed_after_the_lease_without_restarting_serve(
        fragile_store, tmp_path):
    url, outage = fragile_store
    port = free_port()
    log = tmp_path / "serve.log"
    server = start_serve(serve_env(url, port, LEASE), tmp_path, log)
    engine = make_engine(url)
    try:
        mta = Mta(port, MESSAGES)
        while len(mta.acked) < MESSAGES // 4:
            time.sleep(0.005)
        for _attempt in range(5):  # an outage lands between two claims now and then: again
            before, started = time.monotonic(), utcnow()
            with outage():
                time.sleep(2.0)  # the workers fail on their claimed messages, and fail to record it
            # just after the outage, before any lease could end: messages accepted, claimed before
            # the outage and left `processing` by a server that is still running
            with engine.connect() as conn:
                stuck = set(conn.scalars(select(InboundMessage.id).where(InboundMessage.state == "processing",
                                                                         InboundMessage.claimed_at < started)))
            assert time.monotonic() - before < LEASE
            if stuck or len(mta.acked) == MESSAGES:
                break
        assert stuck, "the outage left no message processing: nothing was tested"
        acked = mta.join()
        assert len(acked) == MESSAGES  # the senders retried what was refused during the outage
        wait_all_done(engine, MESSAGES, seconds=60)
        assert server.poll() is None  # the same server did it, no restart
        assert_processed_once(engine, acked)
    finally:
        code = stop_serve(server, log)
        engine.dispose()
    assert code == 0, log.read_text()[-3000:]


def test_claims_of_a_process_that_died_are_processed_at_the_next_sweep(engine, db_url, tmp_path):
    """The claimer is gone (a crashed co-server of this host): no need to wait for the lease."""
    port = free_port()
    log = tmp_path / "serve.log"
    server = start_serve(serve_env(db_url, port, 3600), tmp_path, log)
    try:
        owner = gone_owner()
        with engine.begin() as conn:  # stored and claimed in one transaction by the dead process
            for index in range(5):
                insert_arrival(conn, Arrival(aide(index), "smtp", f"agent{index}@mairie.fr", (BOT,)))
            conn.execute(update(InboundMessage).values(state="processing", claimed_by=owner,
                                                       claimed_at=utcnow()))
        wait_all_done(engine, 5, seconds=30)
        assert server.poll() is None
        assert_processed_once(engine, set(range(5)))
    finally:
        code = stop_serve(server, log)
    assert code == 0, log.read_text()[-3000:]
