"""Campaign send benchmark: the scale-1 campaign to a local aiosmtpd sink over TCP.

Prints, for scale 1 (and scale 0.1 for the time ratio):
- messages per second of `campaign send` end to end (render into the store and deliver, overlapped),
  and of the delivery phase alone (the same outbox sent a second time);
- the sink's ceiling: the same SMTP transactions (one a message, to all its recipients),
  pre-rendered, sent by plain smtplib over one connection;
The sink is an aiosmtpd server in its own process, reached over TCP.
- peak memory: ru_maxrss of this process, and the peak of this process plus its render worker
  processes together (proportional set size, so pages the forked workers share are counted once;
  sampled from /proc every 250 ms; the sink is not counted). Each store is seeded by a child
  process (`mailbot seed`), so the figures are the campaign's, not the seeding's;
- the time ratio of scale 1 to scale 0.1 (linear would be 10).

Targets (issue 3): ≥ 300 messages/s, ≥ 0.5 of the ceiling, < 300 MB, ratio ≤ 11.

    python bench/campaign.py [--scale 1] [--small 0.1] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import resource
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailbot.outbound.campaign import create_campaign, send_campaign  # noqa: E402
from mailbot.config import load_config  # noqa: E402
from mailbot.outbound.delivery import deliver_pending  # noqa: E402
from mailbot.outbound.outbox import return_path  # noqa: E402
from mailbot.devtools.sink import free_port  # noqa: E402
from store.campaign_models import Delivery, OutboundMessage  # noqa: E402
from store.db import make_engine, session_factory  # noqa: E402

RULES = Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class TreeMemory:
    """Peak resident memory of this process and its descendants (render workers), except `exclude`."""

    # Reading smaps_rollup walks the page tables of every process: at 20 ms it cost the run it
    # measured a third of a core.
    PERIOD = 0.25

    def __init__(self, exclude: int):
        self.exclude = exclude
        self.peak_kb = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.PERIOD):
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(pid) for pid in self._tree(os.getpid())))

    def _tree(self, pid: int) -> list[int]:
        pids = [pid]
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                children = [int(c) for c in task.read_text().split()]
            except OSError:
                continue
            pids += [p for child in children if child != self.exclude for p in self._tree(child)]
        return pids

    def stop(self) -> float:
        self.stopped.set()
        self.thread.join()
        return self.peak_kb / 1024


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_campaign(workdir: Path, scale: float, sink_port: int) -> dict:
    url = f"sqlite:///{workdir / f'bench-{scale}.sqlite'}"
    environ = {"MAILBOT_DB": url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{sink_port}"}
    subprocess.run([sys.executable, "-m", "mailbot", "seed", "--scale", str(scale), "--seed", "2012"],
                   env={**os.environ, **environ}, check=True, stdout=subprocess.DEVNULL)
    engine = make_engine(url)
    sessions = session_factory(engine)
    config = load_config(environ=environ)
    with sessions.begin() as session:
        create_campaign(session, "bench", RULES, date(2012, 6, 30))
    started = time.perf_counter()
    sent = send_campaign(engine, sessions, config, "bench")
    seconds = time.perf_counter() - started
    rendered, report = sent.render, sent
    # the delivery phase alone: the same outbox sent again from scratch
    with engine.begin() as conn:
        conn.execute(update(Delivery).values(state="queued", next_attempt_at=None, attempts=0))
    again = time.perf_counter()
    deliver_pending(engine, config)
    deliver_seconds = time.perf_counter() - again
    render_seconds = 0.0
    with sessions() as session:
        messages = session.scalar(select(func.count(OutboundMessage.id)))
    engine.dispose()
    return {
        "scale": scale, "messages": messages, "envelopes": report.sent, "seconds": seconds,
        "render_seconds": render_seconds, "deliver_seconds": deliver_seconds, "rendered": rendered.rendered, "unreachable": rendered.unreachable,
        "failed": report.failed + report.deferred, "url": url, "config": config,
    }


def ceiling(url: str, config, sink_port: int) -> float:
    """Seconds for plain smtplib to send the same transactions, pre-rendered, over one connection:
    one a message, to all its recipients, under the return path the delivery worker uses."""
    engine = make_engine(url)
    with session_factory(engine)() as session:
        recipients: dict[int, list[tuple[int, str]]] = {}
        for delivery_id, outbound_id, recipient in session.execute(
                select(Delivery.id, Delivery.outbound_id, Delivery.recipient).order_by(Delivery.id)):
            recipients.setdefault(outbound_id, []).append((delivery_id, recipient))
        raws = dict(session.execute(select(OutboundMessage.id, OutboundMessage.raw)
                                    .where(OutboundMessage.id.in_(recipients))).all())
    engine.dispose()
    wire = []
    for outbound_id, envelope in recipients.items():
        sender = return_path(config.secret, config.from_address, outbound_id, [d for d, _ in envelope])
        # pre-rendered as they go on the wire (smtplib sends bytes as they are)
        wire.append((sender, [r for _, r in envelope], raws[outbound_id].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")))
    smtp = smtplib.SMTP("127.0.0.1", sink_port)
    started = time.perf_counter()
    for sender, to, raw in wire:
        smtp.sendmail(sender, to, raw)
    seconds = time.perf_counter() - started
    smtp.quit()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--small", type=float, default=0.1)
    args = parser.parse_args()
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "mailbot.devtools.sink", "--port", str(port), "--discard"],
                            stdout=subprocess.PIPE, text=True)
    sink.stdout.readline()  # "sink listening on …"
    tree = TreeMemory(exclude=sink.pid)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            small = run_campaign(Path(tmp), args.small, port)
            big = run_campaign(Path(tmp), args.scale, port)
            peak_before_ceiling = peak_mb()
            peak_tree = tree.stop()
            ceiling_seconds = ceiling(big["url"], big["config"], port)
    finally:
        sink.terminate()
        received = sink.communicate(timeout=30)[0].strip()
    rate = big["messages"] / big["seconds"]
    ceiling_rate = big["messages"] / ceiling_seconds
    delivery_rate = big["messages"] / big["deliver_seconds"]
    print(f"scale {args.scale}: {big['messages']} messages ({big['envelopes']} envelopes, "
          f"{big['unreachable']} collectivités unreachable, {big['failed']} not sent) in {big['seconds']:.1f} s "
          "(render and deliver, overlapped)")
    print(f"messages per second, end to end (render + deliver): {rate:8.1f}   (target >= 300)")
    print(f"messages per second, delivery phase:               {delivery_rate:8.1f}")
    print(f"sink ceiling (plain smtplib, one connection):      {ceiling_rate:8.1f} messages/s "
          f"(same transactions in {ceiling_seconds:.1f} s)")
    print(f"ratio to ceiling, end to end:                      {rate / ceiling_rate:8.2f}   (target >= 0.5)")
    print(f"ratio to ceiling, delivery phase:                  {delivery_rate / ceiling_rate:8.2f}")
    print(f"peak memory:                                       {peak_before_ceiling:8.1f} MB "
          "(ru_maxrss of this process: the campaigns, before the ceiling run; target < 300)")
    print(f"peak memory with the render workers:               {peak_tree:8.1f} MB "
          "(PSS of this process + its worker processes at the same moment, sampled)")
    print(f"scale {args.small}: {small['messages']} messages in {small['seconds']:.2f} s")
    print(f"time ratio scale {args.scale} / {args.small}:  {big['seconds'] / small['seconds']:8.2f}   (target <= 11)")
    print(received)


if __name__ == "__main__":
    main()
