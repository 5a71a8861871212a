"""Inbound benchmark: `mailbot serve` on a temporary SQLite store, 5,000 messages over SMTP.

Prints accepted messages per second (first DATA to last 250, 8 concurrent smtplib clients, one
connection each) and the time from the first message until every one is classified.

Target (issue 4): ≥ 200 messages/s accepted on SQLite.

    python bench/ingest.py [--messages 5000] [--clients 8] [--workers 2] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"mailbot serve exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("mailbot serve did not start listening")


def message(index: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Agent {index} <agent{index}@mairie-{index % 97}.fr>"
    msg["To"] = "atlas@cncd.example.fr"
    msg["Subject"] = f"Question n° {index} sur l'Atlas"
    msg["Message-ID"] = make_msgid(idstring=f"bench{index}", domain=f"mairie-{index % 97}.fr")
    msg.set_content("Bonjour,\n\nPourriez-vous me dire où en est notre fiche ?\n\nCordialement,\n" * 3)
    return msg.as_bytes()


def push(port: int, messages: dict[int, bytes], accepted: list[int], failed: list[int]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        for index, raw in messages.items():
            try:
                client.sendmail(f"agent{index}@mairie-{index % 97}.fr", ["atlas@cncd.example.fr"], raw)
                accepted.append(index)
            except smtplib.SMTPException:
                failed.append(index)


def classified(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM inbound_message WHERE state IN ('done', 'error')").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="Keep the store in this directory.")
    args = parser.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="mailbot-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "ingest.sqlite"
    port = free_port()
    env = {**os.environ, "MAILBOT_DB": f"sqlite:///{db_path}", "MAILBOT_LISTEN": f"127.0.0.1:{port}",
           "MAILBOT_SMTP": f"smtp://127.0.0.1:{free_port()}", "PYTHONPATH": str(ROOT)}
    # `serve` needs a store `mailbot init` created (the development secret is fine here: --dev)
    subprocess.run([sys.executable, "-m", "mailbot", "init"], env=env, cwd=workdir, check=True, capture_output=True)
    log = open(workdir / "serve.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "mailbot", "serve", "--workers", str(args.workers),
                                "--log-level", "WARNING", "--dev"], env=env, cwd=workdir, stdout=log, stderr=log)
    try:
        wait_for_port(port, process)
        accepted: list[int] = []
        failed: list[int] = []
        # Built beforehand: the figure is the server's, not the time Python takes to write mail.
        shares = [{i: message(i) for i in range(k, args.messages, args.clients)} for k in range(args.clients)]
        threads = [threading.Thread(target=push, args=(port, share, accepted, failed)) for share in shares]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        accept_seconds = time.perf_counter() - started
        while classified(db_path) < len(accepted):
            if time.perf_counter() - started > 600:
                raise SystemExit("not every message was classified within 10 minutes")
            time.sleep(0.05)
        classify_seconds = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.close()
    print(f"messages sent          {args.messages} with {args.clients} concurrent SMTP clients")
    print(f"accepted (250)         {len(accepted)}   refused: {len(failed)}")
    print(f"accepted per second    {len(accepted) / accept_seconds:.0f}   (target ≥ 200 on SQLite)")
    print(f"all accepted in        {accept_seconds:.1f} s")
    print(f"all classified after   {classify_seconds:.1f} s   ({len(accepted) / classify_seconds:.0f} messages/s end to end)")
    print(f"serve exit status      {code} after SIGTERM")
    print(f"store                  {db_path}")
    return 0 if not failed and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
