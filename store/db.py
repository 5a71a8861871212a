"""Engines, sessions and schema upgrades.

SQLite is the embedded default: WAL with synchronous=FULL so a committed message survives a power
cut, foreign keys on, a busy timeout, and write transactions that take the write lock when they
begin (BEGIN IMMEDIATE) so two writers queue instead of failing with « database is locked ».
Read-only work (`read_sessions`, or any connection with the `read_only` execution option) begins a
plain deferred transaction instead: in WAL mode a reader never waits for the writer, so listing the
inbox or the queue never fails with « database is locked » while a worker writes.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
# Alembic announces each of its autogenerate plugins at INFO when first imported: seven lines at every
# `mailbot serve` start that say nothing about the store. Its migration lines are kept.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "mailbot_read_only"  # execution option: this connection's transactions only read


class StoreError(RuntimeError):
    """The store cannot be reached or used; the message is meant for the user."""


def make_engine(url: str, **kwargs) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"adresse de base de données illisible : {url!r} (par exemple sqlite:///mailbot.sqlite)") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(
                parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
            )
            _configure_sqlite(engine)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise StoreError(f"adresse de base de données non prise en charge : {url!r} ({exc})") from None
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading: on SQLite their transactions never take the write lock (see above)."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


def alembic_config(engine: Engine):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


# PostgreSQL advisory lock held while migrating: several `mailbot serve` starting together on one
# database migrate it one after the other (the second finds nothing to do) instead of colliding
MIGRATION_LOCK = 0x61746C6173  # "atlas"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema (what `mailbot init` does).

    A store already at `head` is left alone without starting Alembic, which logs its set-up at
    INFO on every run: its lines are worth reading only when a migration actually runs."""
    from alembic import command

    try:
        if revision == "head" and current_revisions(engine) == head_revisions(engine):
            return
        with _migration_lock(engine):
            command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        raise StoreError(f"base de données injoignable : {one_line(exc.orig)}") from None


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the store's alembic_version table names (empty for a new store)."""
    if not inspect(engine).has_table("alembic_version"):
        return set()
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def head_revisions(engine: Engine) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def sqlite_file_missing(engine: Engine) -> Path | None:
    """The file a SQLite URL names when it does not exist (connecting would create it empty)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    path = Path(database)
    return None if path.exists() else path


@contextmanager
def _migration_lock(engine: Engine):
    if engine.dialect.name != "postgresql":
        yield  # SQLite: the migration's own write transaction excludes the others
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()


def one_line(error) -> str:
    """Drivers write multi-line messages; a CLI error is one line."""
    return " ".join(str(error).split())


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def is_initialised(engine: Engine) -> bool:
    """Whether the schema exists; a SQLite file that does not exist is not created to find out."""
    if sqlite_file_missing(engine):
        return False
    try:
        return inspect(engine.execution_options(**{READ_ONLY: True})).has_table("alembic_version")
    except OperationalError as exc:
        raise StoreError(f"base de données injoignable : {one_line(exc.orig)}") from None
