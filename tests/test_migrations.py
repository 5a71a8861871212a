from sqlalchemy import inspect

from store.db import downgrade, make_engine, upgrade


def test_every_revision_walks_up_and_down(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    assert inspect(engine).has_table("collectivite")
    downgrade(engine, "base")
    assert not inspect(engine).has_table("collectivite")
    upgrade(engine)
    assert inspect(engine).has_table("contact")
    engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


def test_the_migrations_build_exactly_the_models(db_url):
    """A model changed without its migration (or the reverse) shows here, on both backends."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.schema import metadata

    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
