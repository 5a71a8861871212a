"""Export: every table as canonical JSON Lines plus a manifest, from one consistent snapshot."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    Connection,
    Engine,
    String,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.pool import NullPool

from store.db import SQLITE_BUSY_TIMEOUT_MS, StoreError
from store.exchange.format import (
    EXPORT_BATCH_ROWS,
    FORMAT_NAME,
    FORMAT_VERSION,
    JSON_LINE,
    MANIFEST,
    ExportFailed,
)
from store.exchange.plans import TablePlan, table_plans

# --- Export ---------------------------------------------------------------------------------------


def export_atlas(engine: Engine, directory: str | Path) -> dict[str, int]:
    """Write every table to `directory/<table>.jsonl` and a `manifest.json`; return rows per table.

    All tables are read in one transaction, so the files describe one consistent state of the
    store. Rows are streamed in batches; memory does not grow with the size of the store. The
    manifest is written last: a directory with a manifest holds a complete export.
    """
    plans = table_plans()
    directory = Path(directory)
    _prepare_export_directory(directory)
    counts: dict[str, int] = {}
    try:
        with _read_snapshot(engine) as conn:
            refuse_missing_tables(conn, plans, ExportFailed)
            revision = _schema_revision(conn)
            for plan in plans:
                counts[plan.name] = _export_table(conn, plan, directory / plan.file_name)
        _write_atomically(directory / MANIFEST, _manifest_text(plans, counts, revision))
    except OSError as exc:
        raise ExportFailed(f"cannot write the export to {directory}: {exc.strerror or exc}") from None
    return counts


def _prepare_export_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Drop an older manifest first, so an interrupted export never looks complete.
        (directory / MANIFEST).unlink(missing_ok=True)
    except OSError as exc:
        raise ExportFailed(f"cannot write the export to {directory}: {exc.strerror or exc}") from None


@contextmanager
def _read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A transaction that sees every table as of one moment (it writes nothing)."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        # The store's engine begins every transaction IMMEDIATE, which would hold the write lock
        # (and stall incoming mail) for the whole export. A deferred transaction on a separate
        # connection reads a WAL snapshot without blocking writers.
        reader = create_engine(engine.url, poolclass=NullPool,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(reader, "connect", _sqlite_manual_transactions)
        event.listen(reader, "begin", lambda conn: conn.exec_driver_sql("BEGIN DEFERRED"))
        try:
            with reader.begin() as conn:
                yield conn
        finally:
            reader.dispose()
        return
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _sqlite_manual_transactions(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" listener issues BEGIN itself


def refuse_missing_tables(conn: Connection, plans: list[TablePlan], error: type[StoreError]) -> None:
    """A store behind the code's schema cannot be exported or loaded faithfully."""
    existing = set(inspect(conn).get_table_names())
    missing = [plan.name for plan in plans if plan.name not in existing]
    if missing:
        raise error(f"the store has no table {', '.join(missing)}: run `mailbot init` to bring its schema up to date")


def _schema_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _export_table(conn: Connection, plan: TablePlan, path: Path) -> int:
    table = plan.table
    statement = select(table).order_by(*(_sort_key(conn, table.c[name]) for name in plan.primary_key))
    result = conn.execution_options(yield_per=EXPORT_BATCH_ROWS).execute(statement)
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        for batch in result.partitions():
            out.write("".join(_row_line(plan, row) for row in batch))
            count += len(batch)
    os.replace(tmp, path)
    return count


def _sort_key(conn: Connection, column):
    # Code-point order on both backends (PostgreSQL would otherwise sort text by locale), so the
    # same data exports identically whichever database holds it.
    if conn.dialect.name == "postgresql" and isinstance(column.type, String):
        return column.collate("C")
    return column


def _row_line(plan: TablePlan, row) -> str:
    record = {codec.name: None if value is None else codec.encode(value)
              for codec, value in zip(plan.codecs, row, strict=True)}
    return JSON_LINE.encode(record) + "\n"


def _manifest_text(plans: list[TablePlan], counts: dict[str, int], revision: str | None) -> str:
    """The manifest as indented JSON, one line per table so that a diff shows which counts moved."""
    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "schema_revision": revision}
    tables = [
        json.dumps({"name": plan.name, "file": plan.file_name, "rows": counts[plan.name],
                    "columns": list(plan.column_names)}, ensure_ascii=False)
        for plan in plans
    ]
    lines = [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value in header.items()]
    return "{\n" + "\n".join(lines) + '\n  "tables": [\n    ' + ",\n    ".join(tables) + "\n  ]\n}\n"


def _write_atomically(path: Path, content: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content, encoding="utf-8", newline="\n")
    os.replace(tmp, path)
