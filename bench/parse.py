"""Reply parsing benchmark: a few thousand realistic replies, parsed and diffed.

Prints median and 99th-percentile milliseconds per reply for our parser (parse + find the forms +
diff against the snapshot + validate), and, on the same replies, the time mail-parser-reply takes
just to strip quotes from the text part, as a ratio (target: median ≤ 5 ms).

    python bench/parse.py [--replies 3000]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbot.replies.diff import diff_form  # noqa: E402
from mailbot.outbound.form import form_labels  # noqa: E402
from mailbot.replies.parse import parse_message, parse_reply, reply_text  # noqa: E402
from mailbot.replies.words import read_words  # noqa: E402
from tests import replies  # noqa: E402
from tests.test_parse import REFS, RULES, SENDER, TYPICAL_EDIT, set_field, snapshot, summary_for  # noqa: E402


def corpus(count: int, seed: int = 1) -> list[tuple[bytes, dict]]:
    rng = random.Random(seed)
    record = snapshot()
    summary = summary_for(record)
    edits = [TYPICAL_EDIT, lambda lines: lines, set_field("CT-AAAA1", "Titre", "Maire"),
             set_field("PJ-EEEE1", "Statut", "en sommeil")]
    clients = sorted(replies.CLIENTS)
    return [(replies.CLIENTS[rng.choice(clients)](summary, rng.choice(edits), SENDER), record) for _ in range(count)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=3000)
    args = parser.parse_args()
    items = corpus(args.replies)
    load_before = os.getloadavg()[0]
    ours = []
    for raw, record in items:
        started = time.perf_counter()
        parsed = parse_reply(raw, form_labels(RULES))  # as the reply route reads it: with the rules' labels
        read_words(parsed.note)  # what the agent wrote besides the form
        for form in parsed.forms:
            diff_form(form, record, RULES, REFS)
        ours.append((time.perf_counter() - started) * 1000)
    print(f"{len(items)} replies from {len(replies.CLIENTS)} client shapes "
          f"(load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after: timings are wall clock)")
    print(f"ours: median {statistics.median(ours):.2f} ms, p99 {percentile(ours, 0.99):.2f} ms per reply "
          "(parse + forms + diff + validation; target median <= 5 ms)")
    try:
        from mailparser_reply import EmailReplyParser
    except ImportError:
        print("mail-parser-reply not installed: `pip install mail-parser-reply` for the comparison")
        return
    stripper = EmailReplyParser(languages=["fr", "en"])
    theirs = []
    for raw, _record in items:
        started = time.perf_counter()
        text, _problems = reply_text(parse_message(raw))
        stripper.parse_reply(text=text)
        theirs.append((time.perf_counter() - started) * 1000)
    print(f"mail-parser-reply (MIME decoding + quote stripping only): median {statistics.median(theirs):.2f} ms, "
          f"p99 {percentile(theirs, 0.99):.2f} ms")
    print(f"ratio ours / theirs (median): {statistics.median(ours) / statistics.median(theirs):.2f}")


if __name__ == "__main__":
    main()
