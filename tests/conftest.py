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

from mailbot.devtools.sink import start_sink
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


# --- a seeded Atlas, built once per backend and copied for each test ------------------------------

SEED_SCALE = 0.01
SEED_RNG = 7


def _pg_url_for(database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _pg_admin():
    from sqlalchemy import create_engine

    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory):
    """backend → how to make a fresh copy of a store seeded at SEED_SCALE (built lazily, once)."""
    built: dict[str, str] = {}

    def template(backend: str) -> str:
        if backend in built:
            return built[backend]
        from store.seed import seed_atlas

        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('tpl') / 'seeded.sqlite'}"
        else:
            name = f"atlas_tpl_{uuid.uuid4().hex[:10]}"
            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = _pg_url_for(name)
        eng = make_engine(url)
        upgrade(eng)
        seed_atlas(eng, scale=SEED_SCALE, seed=SEED_RNG)
        eng.dispose()
        built[backend] = url
        return url

    yield template
    for backend, url in built.items():
        if backend == "postgresql":
            from sqlalchemy.engine import make_url

            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}"'))
            admin.dispose()


@pytest.fixture(params=BACKENDS)
def seeded_db_url(request, tmp_path, seeded_template):
    """A URL to a fresh copy of the seeded Atlas, on each backend in turn."""
    import shutil

    from sqlalchemy.engine import make_url

    if request.param == "postgresql":
        _skip_or_fail_pg()
    source = seeded_template(request.param)
    if request.param == "sqlite":
        target = tmp_path / "atlas.sqlite"
        shutil.copy(make_url(source).database, target)
        yield f"sqlite:///{target}"
        return
    name = f"atlas_t_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(source).database}"'))
    yield _pg_url_for(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
