"""Shared fixtures: a fresh, migrated store on SQLite and on PostgreSQL.

PostgreSQL tests use a throwaway schema per test in the database named by MAILBOT_TEST_PG
(default postgresql+psycopg://postgres@127.0.0.1:5432/test). They skip with a reason when no server
answers, unless MAILBOT_REQUIRE_PG=1 (set by .ci/run), where an absent server is a failure.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from store.db import make_engine, session_factory, upgrade

PG_URL = os.environ.get("MAILBOT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def _pg_available() -> str | None:
    try:
        engine = make_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "no server here"
        return f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"


_PG_REASON = _pg_available()


def _skip_or_fail_pg():
    if _PG_REASON is None:
        return
    if os.environ.get("MAILBOT_REQUIRE_PG") == "1":
        pytest.fail(_PG_REASON + " (MAILBOT_REQUIRE_PG=1)")
    pytest.skip(_PG_REASON)


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A URL to an empty database (no schema yet), on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'atlas.sqlite'}"
        return
    _skip_or_fail_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url):
    """A migrated, empty store."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def Session(engine):
    return session_factory(engine)
