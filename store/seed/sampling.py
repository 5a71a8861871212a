"""Deterministic sampling and apportioning, batches, and the references handed out while planning."""
from __future__ import annotations

import math
import random
from itertools import islice

from store.models import (
    new_ref,
)
from store.seed.figures import BATCH


def weighted_sample(items: list, weights: list[float], k: int, rng: random.Random) -> list:
    """k distinct items, heavier ones likelier (Efraimidis–Spirakis); zero weights never drawn."""
    keyed = [(math.log(1.0 - rng.random()) / w, i) for i, w in enumerate(weights) if w > 0]
    keyed.sort(reverse=True)
    return [items[i] for _, i in keyed[:k]]


def apportion(total: int, weights: list[float], floor: int = 1, caps: list[int] | None = None) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder), each at least
    `floor` and at most its cap. Deterministic: randomness, if wanted, goes into the weights."""
    n = len(weights)
    caps = caps if caps is not None else [total] * n
    alloc = [min(floor, cap) for cap in caps]
    remaining = total - sum(alloc)
    if remaining < 0 or total > sum(caps):
        raise ValueError(f"cannot apportion {total} over {n} parts")
    while remaining > 0:
        open_ = [i for i in range(n) if alloc[i] < caps[i]]
        w = [max(weights[i], 0.0) for i in open_]
        if not any(w):
            w = [1.0] * len(open_)
        total_w = sum(w)
        shares = [(remaining * wi / total_w, i) for wi, i in zip(w, open_)]
        given = 0
        for share, i in shares:
            add = min(int(share), caps[i] - alloc[i])
            alloc[i] += add
            given += add
        if given == 0:  # every share is below one: hand out the largest remainders
            for _, i in sorted(shares, key=lambda s: (-(s[0] - int(s[0])), s[1]))[:remaining]:
                alloc[i] += 1
                given += 1
        remaining -= given
    return alloc


def scatter(total: int, weights: list[float], rng: random.Random) -> list[int]:
    """`total` units dropped at random into len(weights) bins, heavier bins likelier."""
    counts = [0] * len(weights)
    if total > 0 and weights:
        for i in rng.choices(range(len(weights)), weights=weights, k=total):
            counts[i] += 1
    return counts


def chunks(rows, size: int = BATCH):
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


class Refs:
    """Unique short references drawn from the seed's generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def new(self, prefix: str) -> str:
        while (ref := new_ref(prefix, self.rng)) in self.used:
            pass
        self.used.add(ref)
        return ref
