"""Inbound benchmark: `mailbot serve` on a temporary SQLite store, 5,000 messages over SMTP.

Prints accepted messages per second (first DATA to last 250, 8 concurrent smtplib clients, one
connection each) and the time from the first message until every one is classified.

Target (issue 4): ≥ 200 messages/s accepted on SQLite.

Then (issue 16) the time to 250 of ordinary messages while pathological ones are being processed:
one more client sends messages built to cost the worker the most (a 100 KB « Pays », folded headers
in MIME parts just under the limit, thousands of « Mairie de … » lines, a large attachment) while
the others send theirs; prints the median and p99 time from the start of a message to its 250.
Target: p99 under 1 s.

    python bench/ingest.py [--messages 5000] [--clients 8] [--workers 2] [--pathological 20] [--keep DIR]
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


def pathological(index: int) -> bytes:
    """A reply built to cost the worker the most within the limits (see the module docstring)."""
    msg = EmailMessage()
    msg["From"] = f"Agent {index} <robot{index}@mairie-{index % 97}.fr>"
    msg["To"] = "atlas+r1-aaaaaaaaaaaaaaaa@cncd.example.fr"
    msg["Subject"] = f"Re: [Atlas 2012] Mise à jour de la fiche ({index})"
    msg["Message-ID"] = make_msgid(idstring=f"patho{index}", domain="mairie.fr")
    mairies = "\n".join(f"Mairie de Saint-Martin-{n}-sur-Loire" for n in range(3000))
    form = ("#### DEBUT DU FORMULAIRE ATLAS r1-aaaaaaaaaaaaaaaa ####\n#### CO-DDDD1 ####\nPays : "
            + "Sénégal Mali " * 8000 + "\nThématiques : " + "santé, eau, " * 8000 + "\n#### FIN ####\n")
    msg.set_content(f"Bonjour,\n{mairies}\n{form}")
    for part in range(8):
        msg.add_attachment(os.urandom(1_000_000), maintype="application", subtype="octet-stream",
                           filename=f"annexe-{part}.bin")
    folded = "; ".join(f'x{n}="{"y" * 20}"' for n in range(400))  # ~12 KB, under the 16 KB a header may have
    for attachment in msg.iter_attachments():
        attachment.replace_header("Content-Type", f"application/octet-stream; {folded}")
    return msg.as_bytes()


def push(port: int, messages: dict[int, bytes], accepted: list[int], failed: list[int],
         latencies: list[float] | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        for index, raw in messages.items():
            started = time.perf_counter()
            try:
                client.sendmail(f"agent{index}@mairie-{index % 97}.fr", ["atlas@cncd.example.fr"], raw)
                accepted.append(index)
            except smtplib.SMTPException:
                failed.append(index)
            if latencies is not None:
                latencies.append(time.perf_counter() - started)


def under_pathological_load(port: int, clients: int, count: int, pathological_count: int,
                            db_path: Path) -> tuple[list[float], int]:
    """Latencies to 250 of `count` ordinary messages sent while pathological ones are processed."""
    hostile = {100_000 + i: pathological(i) for i in range(pathological_count)}
    done_before = classified(db_path)
    sender = threading.Thread(target=push, args=(port, hostile, [], []))
    sender.start()
    while classified(db_path) == done_before and sender.is_alive():  # the worker has its first one
        time.sleep(0.01)
    latencies: list[float] = []
    shares = [{i: message(i) for i in range(200_000 + k, 200_000 + count, clients)} for k in range(clients)]
    threads = [threading.Thread(target=push, args=(port, share, [], [], latencies)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sender.join()
    return latencies, len(hostile)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def classified(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM inbound_message WHERE state IN ('done', 'error')").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pathological", type=int, default=20,
                        help="Pathological messages sent during the latency measurement (0: skip it).")
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
        latencies, hostile = ([], 0) if not args.pathological else under_pathological_load(
            port, args.clients, min(args.messages, 2000), args.pathological, db_path)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.close()
    print(f"messages sent          {args.messages} with {args.clients} concurrent SMTP clients")
    print(f"accepted (250)         {len(accepted)}   refused: {len(failed)}")
    print(f"accepted per second    {len(accepted) / accept_seconds:.0f}   (target ≥ 200 on SQLite)")
    print(f"all accepted in        {accept_seconds:.1f} s")
    print(f"all classified after   {classify_seconds:.1f} s   ({len(accepted) / classify_seconds:.0f} messages/s end to end)")
    if latencies:
        print(f"time to 250 while {hostile} pathological messages are processed: median "
              f"{1000 * percentile(latencies, 0.5):.0f} ms, p99 {1000 * percentile(latencies, 0.99):.0f} ms, "
              f"max {1000 * max(latencies):.0f} ms over {len(latencies)} messages   (target p99 < 1 s)")
    print(f"serve exit status      {code} after SIGTERM")
    print(f"store                  {db_path}")
    return 0 if not failed and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
