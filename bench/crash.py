"""Crash benchmark: `campaign send` killed (SIGKILL) at random moments, then resumed.

A store seeded at --scale (0.1: 480 collectivités); the project's sink in its own process, keeping a
journal of every message it accepted (envelope recipients and Message-ID, written before its 250).
A first campaign is sent without a kill, to time a whole run (start, render, deliver) on this
machine now. Then `mailbot campaign send` is started and killed after a random delay (uniform up to
that time), again and again, until --kills kills have landed on a running sender; when a run ends
before its kill, its campaign is complete and the next one is created. Then the last campaign is
resumed to the end. Prints, comparing the sink's journal with the store:
- recipients missing: a delivery the store holds that the sink never accepted (target 0);
- recipients recorded `sent` that the sink never accepted (target 0: no 250, no « sent »);
- duplicates: (Message-ID, recipient) accepted more than once, and how many of them are deliveries
  the store marked `uncertain` (the unknown-outcome window: target all of them);
- render processes still running after a kill (target 0).

    python bench/crash.py [--scale 0.1] [--kills 50] [--max-delay SECONDS] [--seed N] [--db URL]
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailbot.devtools.processes import alive, descendants  # noqa: E402
from mailbot.devtools.sink import free_port, read_journal  # noqa: E402
from store.campaign_models import Delivery, OutboundMessage  # noqa: E402
from store.db import make_engine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "campagne-2012.toml"
MAILBOT = [sys.executable, "-m", "mailbot"]


class Crasher:
    def __init__(self, env: dict, workdir: Path, rng: random.Random, max_delay: float | None):
        self.env, self.workdir, self.rng, self.max_delay = env, workdir, rng, max_delay
        self.campaigns = 0
        self.kills = 0
        self.completed = 0
        self.orphans = 0

    def new_campaign(self) -> str:
        self.campaigns += 1
        name = f"crash-{self.campaigns}"
        subprocess.run([*MAILBOT, "campaign", "create", name, "--rules", str(RULES), "--deadline", "2012-06-30", "--allow-past"],
                       env=self.env, cwd=self.workdir, check=True, capture_output=True)
        return name

    def send(self, name: str, kill_after: float | None) -> bool:
        """One `campaign send`; True if it was killed while running."""
        sender = subprocess.Popen([*MAILBOT, "campaign", "send", name, "--quiet"], env=self.env, cwd=self.workdir,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kill_after is None:
            _, err = sender.communicate()
            if sender.returncode != 0:
                raise SystemExit(f"campaign send failed: {err.decode()[-2000:]}")
            return False
        deadline = time.monotonic() + kill_after
        family: set[int] = set()
        while time.monotonic() < deadline and sender.poll() is None:
            family.update(descendants(sender.pid))
            time.sleep(0.005)
        if sender.poll() is not None:
            if sender.returncode != 0:
                raise SystemExit(f"campaign send failed: {sender.stderr.read().decode()[-2000:]}")
            return False
        family.update(descendants(sender.pid))
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        sender.stderr.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(pid) for pid in family):
            time.sleep(0.05)
        left = [pid for pid in family if alive(pid)]
        self.orphans += len(left)
        for pid in left:  # do not let them skew the next runs
            os.kill(pid, signal.SIGKILL)
        return True

    def run(self, kills: int) -> None:
        if self.max_delay is None:  # a whole run, timed
            started = time.perf_counter()
            self.send(self.new_campaign(), None)
            self.max_delay = time.perf_counter() - started
            self.completed += 1
            print(f"a whole run: {self.max_delay:.2f} s", file=sys.stderr, flush=True)
        name = self.new_campaign()
        while self.kills < kills:
            delay = self.rng.uniform(0.0, self.max_delay)
            if self.send(name, delay):
                self.kills += 1
                print(f"kill {self.kills}/{kills} after {delay:.2f} s ({name})", file=sys.stderr, flush=True)
            else:
                self.completed += 1
                name = self.new_campaign()
        self.send(name, None)  # the resume, to the end


def compare(url: str, journal: Path) -> dict:
    accepted: Counter = Counter()
    for line in read_journal(journal):
        accepted.update((line["message_id"], recipient.lower()) for recipient in line["rcpt_tos"])
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(OutboundMessage.message_id, Delivery.recipient, Delivery.state,
                                   Delivery.uncertain).join(Delivery, Delivery.outbound_id == OutboundMessage.id)).all()
    engine.dispose()
    expected = {(m, r.lower()): (state, uncertain) for m, r, state, uncertain in rows}
    duplicates = {key for key, n in accepted.items() if n > 1}
    return {
        "deliveries": len(expected),
        "missing": sorted(key for key in expected if key not in accepted),
        "sent_unaccepted": sorted(key for key, (state, _) in expected.items() if state == "sent" and key not in accepted),
        "not_sent": Counter(state for state, _ in expected.values() if state != "sent"),
        "duplicates": duplicates,
        "duplicates_uncertain": {key for key in duplicates if expected.get(key, (None, False))[1]},
        "uncertain": sum(uncertain for _, uncertain in expected.values()),
        "strangers": sorted(key for key in accepted if key not in expected),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--max-delay", type=float, default=None,
                        help="kill within this many seconds of the start (default: the time of a whole run)")
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--db", default=None, help="an empty database (default: a SQLite file in a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        journal = workdir / "sink.jsonl"
        port = free_port()
        sink = subprocess.Popen([sys.executable, "-m", "mailbot.devtools.sink", "--port", str(port), "--discard",
                                 "--journal", str(journal)], stdout=subprocess.PIPE, text=True)
        sink.stdout.readline()  # "sink listening on …"
        url = args.db or f"sqlite:///{workdir / 'crash.sqlite'}"
        env = {**os.environ, "MAILBOT_DB": url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{port}",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        started = time.perf_counter()
        try:
            subprocess.run([*MAILBOT, "seed", "--scale", str(args.scale), "--seed", str(args.seed)], env=env,
                           cwd=workdir, check=True, capture_output=True)
            crasher = Crasher(env, workdir, random.Random(args.seed), args.max_delay)
            crasher.run(args.kills)
        finally:
            sink.terminate()
            sink.communicate(timeout=30)
        seconds = time.perf_counter() - started
        result = compare(url, journal)
    print(f"store: {'SQLite' if url.startswith('sqlite') else url.split(':', 1)[0]}, scale {args.scale}; "
          f"{crasher.kills} kills (SIGKILL at a random moment within {crasher.max_delay:.1f} s of the start), "
          f"{crasher.campaigns} campaigns ({crasher.completed} ran to the end between kills), in {seconds:.0f} s")
    print(f"deliveries in the store:                       {result['deliveries']}")
    print(f"recipients missing (never accepted by the sink): {len(result['missing'])}   (target 0)")
    print(f"recorded sent without the sink's 250:           {len(result['sent_unaccepted'])}   (target 0)")
    print(f"deliveries not sent after the resume:            {sum(result['not_sent'].values())} "
          f"{dict(result['not_sent']) or ''}")
    print(f"duplicates (same Message-ID, same recipient):    {len(result['duplicates'])}, of which "
          f"{len(result['duplicates_uncertain'])} marked uncertain (target: all)")
    print(f"deliveries marked uncertain:                     {result['uncertain']}")
    print(f"messages the sink took that the store never had: {len(result['strangers'])}   (target 0)")
    print(f"render processes left running after a kill:      {crasher.orphans}   (target 0)")
    for key in result["missing"][:10]:
        print(f"  missing: {key}")


if __name__ == "__main__":
    main()
