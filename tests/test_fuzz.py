"""Fuzzing (#16): mutated replies never make classification or parsing raise, and stay within the
limits the worker relies on. Bounded to stay fast; bench/fuzz.py runs a million cases."""
from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.fuzzing import MUTATIONS, exercise, exercise_parser, seeds
from mailbot.inbound.classify import KINDS

SEEDS = seeds()


@settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, len(SEEDS) - 1),
       steps=st.lists(st.tuples(st.integers(0, len(MUTATIONS) - 1), st.integers(0, 2**32)), min_size=1, max_size=3))
def test_mutated_replies_never_raise(seed, steps):
    raw = SEEDS[seed]
    for mutation, state in steps:
        raw = MUTATIONS[mutation](random.Random(state), raw)
    outcome = exercise(raw)
    assert exercise_parser(raw) >= 0
    assert outcome.kind in KINDS
    assert outcome.forms >= 0 and outcome.changes >= 0
