"""Fuzz benchmark: mutated replies through classification and parsing, on every core.

Each case is a real shape (a reply as a mail client writes it, a robot, a bounce: tests/fuzzing.py)
mutated one to three times (bytes flipped or cut, lines and values repeated thousands of times, long
folded headers, junk charsets, MIME nesting, tokens in HTML comments), then run through what the
inbound worker does with a message before its write transaction, without a database (classification
and authentication, the canonical text's parse, each form's diff against its snapshot, the files
judged, identification when there is no form: `tests.fuzzing.exercise`), then through `parse_reply`,
the parser's entry point on the raw message. Cases over the SMTP size limit are skipped (the listener
refuses them with 552).

Prints, at the end or when stopped (Ctrl-C, SIGTERM): cases run, unhandled exceptions of either step
(target 0, each kind with a case to reproduce it), and the slowest case: the CPU seconds of the
worker's step (target under 1 s), without the worker's CPU budget unless --budget (then also how many
went past it). `parse_reply` is not timed: the worker reads the canonical text classification made.

    python bench/fuzz.py [--count 1000000] [--processes 2] [--seed 1] [--budget] [--save DIR]
    python bench/fuzz.py --replay SEED:INDEX [--save DIR]      # one case again, with its profile
"""
from __future__ import annotations

import argparse
import cProfile
import logging
import multiprocessing
import os
import pstats
import random
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mailbot import budget  # noqa: E402
from mailbot.config import SETTINGS_BY_NAME  # noqa: E402
from tests.fuzzing import exercise, exercise_parser, mutated, national_directory, seeds  # noqa: E402

CHUNK = 500
TARGET_SECONDS = 1.0
MAX_SIZE = SETTINGS_BY_NAME["max_message_size"].default


@dataclass
class Tally:
    cases: int = 0
    skipped: int = 0  # over the size limit
    over_budget: int = 0
    seconds: float = 0.0
    slowest: tuple[float, str, int] = (0.0, "", 0)  # CPU seconds, case id, size
    over_target: list[tuple[float, str, int]] = field(default_factory=list)  # every case over TARGET_SECONDS
    errors: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # kind → (count, case id, traceback)

    def add(self, other: "Tally") -> None:
        self.cases += other.cases
        self.skipped += other.skipped
        self.over_budget += other.over_budget
        self.seconds += other.seconds
        self.slowest = max(self.slowest, other.slowest)
        self.over_target = sorted(self.over_target + other.over_target, reverse=True)
        for kind, (count, case, trace) in other.errors.items():
            known = self.errors.get(kind)
            self.errors[kind] = (count + (known[0] if known else 0), known[1] if known else case,
                                 known[2] if known else trace)


_SEEDS: list[bytes] = []
_DIRECTORY = None


def _start_worker() -> None:
    global _SEEDS, _DIRECTORY
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop (it ends workers with SIGTERM)
    logging.getLogger("flufl").setLevel(logging.CRITICAL)  # its detectors log what they choke on
    _SEEDS = seeds()
    _DIRECTORY = national_directory()


def case(seed: int, index: int) -> bytes:
    rng = random.Random(f"{seed}:{index}")
    return mutated(rng.choice(_SEEDS), rng)


def run_chunk(args: tuple[int, int, int, bool]) -> Tally:
    seed, start, count, with_budget = args
    tally = Tally()
    for index in range(start, start + count):
        raw = case(seed, index)
        if len(raw) > MAX_SIZE:
            tally.skipped += 1
            continue
        started = time.thread_time()
        try:
            with budget.until(budget.deadline_from_now() if with_budget else None):
                exercise(raw, _DIRECTORY)
        except budget.TooComplex:
            tally.over_budget += 1
        except Exception as exc:  # what we are looking for: recorded with a case to replay
            _record_error(tally, exc, f"{seed}:{index}")
        spent = time.thread_time() - started
        try:
            exercise_parser(raw)
        except Exception as exc:
            _record_error(tally, exc, f"{seed}:{index}")
        tally.cases += 1
        tally.seconds += spent
        tally.slowest = max(tally.slowest, (spent, f"{seed}:{index}", len(raw)))
        if spent >= TARGET_SECONDS:
            tally.over_target.append((spent, f"{seed}:{index}", len(raw)))
    return tally


def _record_error(tally: Tally, exc: Exception, case_id: str) -> None:
    kind = f"{exc.__class__.__name__} in {traceback.extract_tb(exc.__traceback__)[-1].name}"
    known = tally.errors.get(kind)
    tally.errors[kind] = ((known[0] if known else 0) + 1, known[1] if known else case_id,
                          known[2] if known else traceback.format_exc(limit=6))


def report(tally: Tally, wall: float, stopped: bool) -> None:
    print()
    print(f"cases run              {tally.cases}{' (stopped)' if stopped else ''}   skipped over the size limit: "
          f"{tally.skipped}")
    print(f"wall time              {wall:.0f} s   ({tally.cases / max(wall, 1e-9):.0f} cases/s; "
          f"mean {1000 * tally.seconds / max(tally.cases, 1):.1f} ms CPU per case)")
    print(f"unhandled exceptions   {sum(count for count, _, _ in tally.errors.values())}   (target 0)")
    for kind, (count, case_id, trace) in sorted(tally.errors.items()):
        print(f"  {count} × {kind}   first: --replay {case_id}")
        print("    " + trace.strip().replace("\n", "\n    "))
    spent, case_id, size = tally.slowest
    print(f"slowest case           {spent:.3f} s CPU before the write transaction   (target < 1 s)   --replay {case_id}   ({size} bytes)")
    print(f"cases over {TARGET_SECONDS:g} s          {len(tally.over_target)}")
    for spent, case_id, size in tally.over_target[:50]:
        print(f"  {spent:.3f} s   --replay {case_id}   ({size} bytes)")
    if tally.over_budget:
        print(f"over the CPU budget    {tally.over_budget} (recorded as too complex by the worker)")


def replay(case_id: str, save: Path | None) -> int:
    _start_worker()
    seed, index = (int(part) for part in case_id.split(":"))
    raw = case(seed, index)
    if save:
        save.mkdir(parents=True, exist_ok=True)
        (save / f"case-{seed}-{index}.eml").write_bytes(raw)
    profile = cProfile.Profile()
    started = time.thread_time()
    profile.runcall(exercise, raw, _DIRECTORY)
    print(f"case {case_id}: {len(raw)} bytes, {time.thread_time() - started:.3f} s CPU (profiled)")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(15)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget", action="store_true", help="Run each case under the worker's CPU budget.")
    parser.add_argument("--save", type=Path, help="Write the slowest case (and a replayed case) here as .eml.")
    parser.add_argument("--replay", metavar="SEED:INDEX", help="Run one case again, profiled.")
    args = parser.parse_args()
    if args.replay:
        return replay(args.replay, args.save)

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    chunks = [(args.seed, start, min(CHUNK, args.count - start), args.budget) for start in range(0, args.count, CHUNK)]
    tally = Tally()
    started = time.monotonic()
    next_report = started + 60
    # spawn, not forkserver: `timeout` signals the whole process group, and a dead fork server left the
    # pool unable to replace a worker, the parent waiting for ever
    pool = multiprocessing.get_context("spawn").Pool(args.processes, initializer=_start_worker)
    print(f"{args.count} cases, {args.processes} processes, seed {args.seed}"
          f"{', under the CPU budget' if args.budget else ''}", flush=True)
    try:
        for result in pool.imap_unordered(run_chunk, chunks):
            tally.add(result)
            if stop["now"]:
                break
            if time.monotonic() > next_report:
                next_report += 60
                errors = sum(count for count, _, _ in tally.errors.values())
                print(f"  {tally.cases} cases, {errors} exception(s), slowest {tally.slowest[0]:.3f} s "
                      f"({tally.slowest[1]}), {len(tally.over_target)} over {TARGET_SECONDS:g} s", flush=True)
    except KeyboardInterrupt:
        stop["now"] = True
    finally:
        pool.terminate()
        pool.join()
    report(tally, time.monotonic() - started, stop["now"])
    if args.save and tally.slowest[1]:
        _start_worker()
        seed, index = (int(part) for part in tally.slowest[1].split(":"))
        args.save.mkdir(parents=True, exist_ok=True)
        (args.save / f"slowest-{seed}-{index}.eml").write_bytes(case(seed, index))
    return 0 if not tally.errors and tally.slowest[0] < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
