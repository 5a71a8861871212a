"""Shared fixtures: a fresh, migrated store on SQLite and on PostgreSQL.

PostgreSQL tests use a throwaway schema per test in the database named by MAILBOT_TEST_PG
(default postgresql+psycopg://postgres@127.0.0.1:5432/test), or a throwaway database copied from a
migrated (or seeded) template on that server. They skip with a reason when no server
answers, unless MAILBOT_REQUIRE_PG=1 (set by .ci/run), where an absent server is a failure.
"""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mailbot.devtools.sink import start_sink
from store.db import make_engine, session_factory, upgrade
from store.seed import seed_atlas

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
def db_url(request, tmp_path, store_template):
    """A URL to an empty database on each backend in turn: without a schema, or migrated when the test
    also uses `engine` (a copy of a store migrated once per session: running every migration for each
    test cost more than the tests themselves)."""
    migrated = "engine" in request.fixturenames
    if request.param == "sqlite":
        target = tmp_path / "atlas.sqlite"
        if migrated:
            shutil.copy(make_url(store_template("sqlite", seeded=False)).database, target)
        yield f"sqlite:///{target}"
        return
    _skip_or_fail_pg()
    if migrated:
        yield from _pg_copy(store_template("postgresql", seeded=False))
        return
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


# --- a seeded Atlas, built once per backend and copied for each test ------------------------------

SEED_SCALE = 0.01
SEED_RNG = 7


def _pg_url_for(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _pg_admin():
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def store_template(tmp_path_factory):
    """(backend, seeded) → the URL of a store to copy for each test: migrated, and seeded at SEED_SCALE
    when `seeded` (each built lazily, once per session)."""
    built: dict[tuple[str, bool], str] = {}

    def template(backend: str, *, seeded: bool) -> str:
        if (backend, seeded) in built:
            return built[backend, seeded]
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('tpl') / 'store.sqlite'}"
        else:
            name = f"atlas_tpl_{uuid.uuid4().hex[:10]}"
            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = _pg_url_for(name)
        eng = make_engine(url)
        upgrade(eng)
        if seeded:
            seed_atlas(eng, scale=SEED_SCALE, seed=SEED_RNG)
        eng.dispose()
        built[backend, seeded] = url
        return url

    yield template
    admin = _pg_admin() if any(backend == "postgresql" for backend, _ in built) else None
    for (backend, _), url in built.items():
        if backend == "postgresql":
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}"'))
    if admin is not None:
        admin.dispose()


def _pg_copy(template_url: str):
    """A fresh PostgreSQL database copied from a template (yields its URL, drops it afterwards)."""
    name = f"atlas_t_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template_url).database}"'))
    yield _pg_url_for(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def seeded_db_url(request, tmp_path, store_template):
    """A URL to a fresh copy of the seeded Atlas, on each backend in turn."""
    if request.param == "postgresql":
        _skip_or_fail_pg()
    source = store_template(request.param, seeded=True)
    if request.param == "sqlite":
        target = tmp_path / "atlas.sqlite"
        shutil.copy(make_url(source).database, target)
        yield f"sqlite:///{target}"
        return
    yield from _pg_copy(source)


@pytest.fixture
def seeded_engine(seeded_db_url):
    eng = make_engine(seeded_db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def seeded_sessions(seeded_engine):
    return session_factory(seeded_engine)


@pytest.fixture
def sink():
    """A local aiosmtpd sink over TCP: (controller with its .port, handler with the messages)."""
    controller, handler = start_sink()
    yield controller, handler
    controller.stop()
