"""Benchmark the national dataset generator: seed a fresh store, print seconds, peak memory, figures.

    python bench/seed.py                      # scale 1 into a temporary SQLite file
    python bench/seed.py --scale 10
    python bench/seed.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench   # an empty database

Peak memory is the process's resident-set high-water mark (`resource.getrusage(RUSAGE_SELF).ru_maxrss`):
it counts the interpreter, SQLAlchemy, the database driver and SQLite's page cache, not only the
generator's own objects, so it is the figure that matters on a small machine. The time covers
`seed_atlas` alone (reference data load, generation, inserts, commit), not the schema migration.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from store.db import make_engine, upgrade
from store.seed import seed_atlas


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def run(db_url: str, scale: float, seed: int) -> dict:
    engine = make_engine(db_url)
    upgrade(engine)
    started = time.perf_counter()
    figures = seed_atlas(engine, scale=scale, seed=seed)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"scale": scale, "seed": seed, "seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb(), 1),
            "figures": figures}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--db", help="SQLAlchemy URL of an empty store (default: a temporary SQLite file)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-seed-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'atlas.sqlite'}"
        result = run(url, args.scale, args.seed)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    where = args.db or "a temporary SQLite file"
    print(f"seed_atlas scale={args.scale:g} seed={args.seed} on {where}")
    print(f"  {result['seconds']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB (ru_maxrss of the process)")
    for key, value in result["figures"].items():
        print(f"  {key:<22}{value:>9}")


if __name__ == "__main__":
    main()
