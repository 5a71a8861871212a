"""Export the whole store as JSON Lines, and import such an export into an empty store.

One `<table>.jsonl` file per table of the metadata (parents first), plus a `manifest.json`; the
format is documented for humans in docs/export-format.md. The tables and their columns come from
`store.schema.metadata`, so a table added by a later migration is exported without code changes;
only a column type without a codec below needs code (building the plan fails loudly then).

Exports are canonical: the same store always gives byte-identical files, so export → import into
an empty store → export reproduces the directory exactly. Imports are all or nothing: every line is
validated (syntax, columns, types, keys) before the first row is written, then everything is
inserted in one transaction.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Enum,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from store.db import SQLITE_BUSY_TIMEOUT_MS, StoreError

FORMAT_NAME = "atlas-mailbot-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SKIPPED_TABLES = frozenset({
    "alembic_version",  # schema bookkeeping, recreated by `mailbot init`
    # the console's short-lived state: secrets (as hashes) that must not travel, claims that expire
    "sign_in_link", "reviewer_session", "sign_in_attempt", "review_claim",
})
EXPORT_BATCH_ROWS = 2000
IMPORT_BATCH_ROWS = 1000
# One encoder for every line: json.dumps with options would build a new one per row.
JSON_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class ExportFailed(StoreError):
    """The export could not be written; the message is meant for the user."""


class ImportRefused(StoreError):
    """The import was refused and nothing was written; the message names the file and line."""


class BadValue(ValueError):
    """One value (or line) of an import file that cannot be loaded; the text says why."""


# --- Column codecs: database value <-> canonical JSON value -------------------------------------


@dataclass(frozen=True)
class ColumnCodec:
    name: str
    nullable: bool
    encode: Callable[[Any], Any]  # non-NULL database value -> JSON value
    decode: Callable[[Any], Any]  # non-null JSON value -> database value, or BadValue

    def load(self, value: Any) -> Any:
        if value is None:
            if not self.nullable:
                raise BadValue(f"{self.name}: null is not allowed")
            return None
        try:
            return self.decode(value)
        except BadValue as exc:
            raise BadValue(f"{self.name}: {exc}") from None


def _describe(value: Any) -> str:
    """A JSON value as an error message shows it: its kind and a short excerpt."""
    kind = {bool: "boolean", int: "number", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)
    excerpt = json.dumps(value, ensure_ascii=False)
    if len(excerpt) > 40:
        excerpt = excerpt[:37] + "..."
    return f"{kind} {excerpt}"


def _integer_codec(type_: Integer):
    bits = 64 if isinstance(type_, BigInteger) else 16 if isinstance(type_, SmallInteger) else 32
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def decode(value):
        if type(value) is not int:  # bool is an int subclass; true is not an id
            raise BadValue(f"expected an integer, got {_describe(value)}")
        if not low <= value <= high:
            raise BadValue(f"{value} is out of range for a {bits}-bit integer")
        return value

    return int, decode


def _boolean_codec():
    def decode(value):
        if type(value) is not bool:
            raise BadValue(f"expected true or false, got {_describe(value)}")
        return value

    return bool, decode


DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z")


def _numeric_codec(type_: Numeric):
    precision, scale = type_.precision, type_.scale
    quantum = Decimal(1).scaleb(-scale) if scale is not None else None

    def encode(value):
        # A string keeps the exact amount; the column's scale makes 12.5 and 12.50 one spelling.
        value = value if isinstance(value, Decimal) else Decimal(str(value))
        return format(value.quantize(quantum) if quantum is not None else value, "f")

    def decode(value):
        if not isinstance(value, str) or not DECIMAL_TEXT.match(value):
            raise BadValue(f'expected a decimal number written as a string such as "1500.00", got {_describe(value)}')
        whole, _, fraction = value.lstrip("-").partition(".")
        if scale is not None and len(fraction) > scale:
            raise BadValue(f"{value} has more than {scale} decimals")
        if precision is not None and len(whole.lstrip("0")) > precision - (scale or 0):
            raise BadValue(f"{value} is too large (at most {precision - (scale or 0)} digits before the point)")
        return Decimal(value)

    return encode, decode


def _float_codec():
    def decode(value):
        if type(value) not in (int, float):
            raise BadValue(f"expected a number, got {_describe(value)}")
        return float(value)

    return float, decode


def _string_codec(type_: String):
    length = type_.length
    choices = set(type_.enums) if isinstance(type_, Enum) else None

    def decode(value):
        if not isinstance(value, str):
            raise BadValue(f"expected a string, got {_describe(value)}")
        if length is not None and len(value) > length:
            raise BadValue(f"{len(value)} characters, at most {length} allowed")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            raise BadValue("contains a NUL character")
        if choices is not None and value not in choices:
            raise BadValue(f"{_describe(value)} is not one of {', '.join(sorted(choices))}")
        return value

    return str, decode


def _datetime_codec(type_: DateTime):
    aware = bool(type_.timezone)

    def encode(value):
        if not aware:
            return value.isoformat()
        # SQLite hands back naive values (it stores no offset); the store writes UTC there.
        utc = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return utc.isoformat()

    def decode(value):
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise BadValue(f"expected an ISO 8601 date-time such as 2012-03-01T10:00:00+00:00, got {_describe(value)}")
        if aware and parsed.tzinfo is None:
            raise BadValue(f"{value} has no UTC offset (write e.g. {value}+00:00)")
        if not aware and parsed.tzinfo is not None:
            raise BadValue(f"{value} has a UTC offset but the column stores local date-times")
        return parsed.astimezone(timezone.utc) if aware else parsed

    return encode, decode


def _date_codec():
    def decode(value):
        try:
            return date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None

    def checked(value):
        parsed = decode(value)
        if parsed is None:
            raise BadValue(f"expected an ISO 8601 date such as 2012-03-01, got {_describe(value)}")
        return parsed

    return date.isoformat, checked


def _binary_codec():
    def encode(value):
        return base64.b64encode(bytes(value)).decode("ascii")

    def decode(value):
        if not isinstance(value, str):
            raise BadValue(f"expected base64 text, got {_describe(value)}")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise BadValue("not valid base64") from None

    return encode, decode


def _json_codec():
    # Any JSON value is valid content; it is written as the database returns it.
    return (lambda value: value), (lambda value: value)


def column_codec(column) -> ColumnCodec:
    """The codec of one column; a type without one is a programming error, reported by name."""
    type_ = getattr(column.type, "impl_instance", column.type)  # a TypeDecorator stores its impl
    if isinstance(type_, Boolean):
        encode, decode = _boolean_codec()
    elif isinstance(type_, Integer):
        encode, decode = _integer_codec(type_)
    elif isinstance(type_, Float):
        encode, decode = _float_codec()
    elif isinstance(type_, Numeric):
        encode, decode = _numeric_codec(type_)
    elif isinstance(type_, DateTime):
        encode, decode = _datetime_codec(type_)
    elif isinstance(type_, Date):
        encode, decode = _date_codec()
    elif isinstance(type_, String):
        encode, decode = _string_codec(type_)
    elif isinstance(type_, LargeBinary):
        encode, decode = _binary_codec()
    elif isinstance(type_, JSON):
        encode, decode = _json_codec()
    else:
        raise TypeError(f"column {column.table.name}.{column.name} has type {column.type!r}, "
                        "which store/exchange.py cannot export yet: add a codec there")
    # A JSON column reads both SQL NULL and the JSON value null as None, and writes None back as
    # JSON null, which a NOT NULL JSON column accepts: null must load there too, or an export of
    # such a row could not be imported.
    nullable = bool(column.nullable) or isinstance(type_, JSON)
    return ColumnCodec(column.name, nullable, encode, decode)


# --- Table plans: what is exported, in which order, with which keys -------------------------------


@dataclass(frozen=True)
class ForeignKeyCheck:
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class TablePlan:
    table: Table
    codecs: tuple[ColumnCodec, ...]
    primary_key: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...]  # primary key first, then unique constraints and indexes
    foreign_keys: tuple[ForeignKeyCheck, ...]
    column_names: tuple[str, ...]
    column_set: frozenset[str]  # for the per-line key check, which runs once per row

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def file_name(self) -> str:
        return f"{self.table.name}.jsonl"


def table_plans() -> list[TablePlan]:
    """Every exported table, parents before children (the order of files, checks and inserts)."""
    from store.schema import metadata  # imports every model module, so no table is forgotten

    return [_plan(table) for table in metadata.sorted_tables if table.name not in SKIPPED_TABLES]


def _plan(table: Table) -> TablePlan:
    primary_key = tuple(column.name for column in table.primary_key.columns)
    uniques = [primary_key]
    uniques += [tuple(c.name for c in constraint.columns) for constraint in table.constraints
                if isinstance(constraint, UniqueConstraint)]
    uniques += [tuple(c.name for c in index.columns) for index in table.indexes if index.unique]
    foreign_keys = tuple(
        ForeignKeyCheck(
            columns=tuple(element.parent.name for element in constraint.elements),
            referred_table=constraint.referred_table.name,
            referred_columns=tuple(element.column.name for element in constraint.elements),
        )
        for constraint in sorted(table.foreign_key_constraints, key=lambda fk: fk.column_keys)
    )
    names = tuple(column.name for column in table.columns)
    return TablePlan(
        table=table,
        codecs=tuple(column_codec(column) for column in table.columns),
        primary_key=primary_key,
        unique_keys=tuple(dict.fromkeys(uniques)),
        foreign_keys=foreign_keys,
        column_names=names,
        column_set=frozenset(names),
    )


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
            _refuse_missing_tables(conn, plans, ExportFailed)
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


def _refuse_missing_tables(conn: Connection, plans: list[TablePlan], error: type[StoreError]) -> None:
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


# --- Import ---------------------------------------------------------------------------------------


def import_atlas(engine: Engine, directory: str | Path) -> dict[str, int]:
    """Load an export into an empty, initialised store; return rows written per table.

    Every file is validated in full before anything is written: JSON syntax, exactly the known
    columns, types and lengths, nullability, duplicate primary keys and unique values, foreign keys
    pointing to rows of the import itself. Then all rows go in one transaction. Any problem raises
    ImportRefused (`file:line: what is wrong`) and leaves the store as it was. Tables that the
    manifest does not list (added by a later migration) stay empty.
    """
    directory = Path(directory)
    plans = table_plans()
    _check_store_ready(engine, plans)
    listed = _read_manifest(directory, plans)
    chosen = [plan for plan in plans if plan.name in listed]
    _validate(directory, chosen, listed)
    return _insert_all(engine, directory, plans, chosen)


def _check_store_ready(engine: Engine, plans: list[TablePlan]) -> None:
    with engine.connect() as conn:
        _refuse_missing_tables(conn, plans, ImportRefused)
        _refuse_if_not_empty(conn, plans)


def _refuse_if_not_empty(conn: Connection, plans: list[TablePlan]) -> None:
    for plan in plans:
        if conn.execute(select(1).select_from(plan.table).limit(1)).first() is not None:
            raise ImportRefused(f"the store is not empty (table {plan.name} has rows): "
                                "an export can only be imported into a freshly initialised store")


def _read_manifest(directory: Path, plans: list[TablePlan]) -> dict[str, int]:
    """The tables the manifest lists, with their row counts, after checking it against the schema."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise ImportRefused(f"{directory}: no such directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportRefused(f"{directory}: no {MANIFEST}, this is not a complete export") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportRefused(f"{MANIFEST}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ImportRefused(f'{MANIFEST}: not an Atlas export (expected "format": "{FORMAT_NAME}")')
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ImportRefused(f"{MANIFEST}: format version {manifest.get('format_version')!r} is not supported "
                            f"(this mailbot reads version {FORMAT_VERSION})")
    entries = manifest.get("tables")
    if not isinstance(entries, list):
        raise ImportRefused(f'{MANIFEST}: "tables" must be a list')
    by_name = {plan.name: plan for plan in plans}
    listed: dict[str, int] = {}
    for position, entry in enumerate(entries, 1):
        name, rows = _manifest_entry(entry, position, by_name)
        if name in listed:
            raise ImportRefused(f"{MANIFEST}: table {name} is listed twice")
        if not (directory / by_name[name].file_name).is_file():
            raise ImportRefused(f"{by_name[name].file_name}: missing, but {MANIFEST} lists table {name}")
        listed[name] = rows
    return listed


def _manifest_entry(entry: Any, position: int, by_name: dict[str, TablePlan]) -> tuple[str, int]:
    where = f"{MANIFEST}: table entry {position}"
    if not isinstance(entry, dict):
        raise ImportRefused(f"{where}: expected an object, got {_describe(entry)}")
    name, rows, columns = entry.get("name"), entry.get("rows"), entry.get("columns")
    plan = by_name.get(name) if isinstance(name, str) else None
    if plan is None:
        raise ImportRefused(f"{where}: unknown table {name!r} (the store has {', '.join(by_name)})")
    if entry.get("file") != plan.file_name:
        raise ImportRefused(f"{where}: table {name} must be in file {plan.file_name}, not {entry.get('file')!r}")
    if type(rows) is not int or rows < 0:
        raise ImportRefused(f"{where}: rows of table {name} must be a count, got {_describe(rows)}")
    if not isinstance(columns, list):
        raise ImportRefused(f"{where}: columns of table {name} must be a list")
    problem = _column_mismatch(plan, columns)
    if problem:
        raise ImportRefused(f"{where}: table {name}: {problem}")
    return name, rows


def _column_mismatch(plan: TablePlan, keys) -> str | None:
    if len(keys) == len(plan.column_set) and plan.column_set.issuperset(keys):
        return None
    unknown = [str(key) for key in keys if key not in plan.column_names]
    missing = [name for name in plan.column_names if name not in keys]
    parts = []
    if unknown:
        parts.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    if missing:
        parts.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return "; ".join(parts) or None


def _read_rows(directory: Path, plan: TablePlan, strict: bool) -> Iterator[tuple[int, dict]]:
    """(line number, row ready for insert) for each line; ImportRefused names the first bad line.

    `strict` also refuses repeated keys in an object, a check that slows parsing by half; the
    validation pass makes it, the insert pass rereads files that have passed it.
    """
    with (directory / plan.file_name).open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            try:
                yield number, _parse_line(plan, raw, strict)
            except BadValue as exc:
                raise ImportRefused(f"{plan.file_name}:{number}: {exc}") from None


def _parse_line(plan: TablePlan, raw: bytes, strict: bool) -> dict:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadValue("not valid UTF-8") from None
    if not line.strip():
        raise BadValue("empty line (every line must be one JSON object)")
    try:
        record = (STRICT_DECODER if strict else DECODER).decode(line)
    except json.JSONDecodeError as exc:
        raise BadValue(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise BadValue(f"expected a JSON object, got {_describe(record)}")
    problem = _column_mismatch(plan, record)
    if problem:
        raise BadValue(problem)
    return {codec.name: codec.load(record[codec.name]) for codec in plan.codecs}


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise BadValue(f"key {repeated!r} appears twice in one object")
    return record


def _no_constants(name: str):
    raise BadValue(f"{name} is not a JSON number")


# Built once: json.loads with options would build a decoder per line.
DECODER = json.JSONDecoder(parse_constant=_no_constants)
STRICT_DECODER = json.JSONDecoder(parse_constant=_no_constants, object_pairs_hook=_unique_keys)


def _validate(directory: Path, plans: list[TablePlan], listed: dict[str, int]) -> None:
    """Read every file once, checking lines and keys; nothing is kept but the keys children need."""
    referenced = _referenced_keys(plans)
    known: dict[tuple[str, tuple[str, ...]], set] = {}
    for plan in plans:
        wanted = [cols for (table, cols) in referenced if table == plan.name]
        seen = {cols: set() for cols in dict.fromkeys([*plan.unique_keys, *wanted])}
        count = _validate_table(directory, plan, seen, known)
        if count != listed[plan.name]:
            raise ImportRefused(f"{plan.file_name}: {count} rows, but {MANIFEST} announces {listed[plan.name]}")
        for cols in wanted:
            known[(plan.name, cols)] = seen[cols]


def _referenced_keys(plans: list[TablePlan]) -> set[tuple[str, tuple[str, ...]]]:
    return {(fk.referred_table, fk.referred_columns) for plan in plans for fk in plan.foreign_keys}


def _validate_table(directory: Path, plan: TablePlan, seen: dict, known: dict) -> int:
    own_references: list[tuple[int, ForeignKeyCheck, tuple]] = []  # a table may point to itself
    unique = set(plan.unique_keys)
    count = 0
    for number, row in _read_rows(directory, plan, strict=True):
        count = number
        where = f"{plan.file_name}:{number}"
        for cols, values in seen.items():
            key = tuple(row[name] for name in cols)
            if cols in unique and key in values:
                raise ImportRefused(f"{where}: {_key_text(cols, key)} appears twice "
                                    f"({'primary key' if cols == plan.primary_key else 'unique'})")
            if None not in key:  # SQL lets NULLs repeat in unique columns
                values.add(key)
        for fk in plan.foreign_keys:
            key = tuple(row[name] for name in fk.columns)
            if None in key:
                continue
            if fk.referred_table == plan.name:
                own_references.append((number, fk, key))
            elif key not in known.get((fk.referred_table, fk.referred_columns), ()):
                raise ImportRefused(f"{where}: {_key_text(fk.columns, key)} points to no row of {fk.referred_table}")
    for number, fk, key in own_references:
        if key not in seen[fk.referred_columns]:
            raise ImportRefused(f"{plan.file_name}:{number}: {_key_text(fk.columns, key)} "
                                f"points to no row of {plan.name}")
    return count


def _key_text(columns: tuple[str, ...], key: tuple) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in zip(columns, key))


def _insert_all(engine: Engine, directory: Path, plans: list[TablePlan], chosen: list[TablePlan]) -> dict[str, int]:
    counts: dict[str, int] = {}
    with engine.begin() as conn:  # any exception below rolls everything back
        _refuse_if_not_empty(conn, plans)  # again: a writer may have come in during validation
        for plan in chosen:
            counts[plan.name] = _insert_table(conn, directory, plan)
        _reset_id_sequences(conn, chosen)
    return counts


def _insert_table(conn: Connection, directory: Path, plan: TablePlan) -> int:
    batch: list[dict] = []
    first = count = 0
    for number, row in _read_rows(directory, plan, strict=False):
        if not batch:
            first = number
        batch.append(row)
        count = number
        if len(batch) == IMPORT_BATCH_ROWS:
            _insert_batch(conn, plan, batch, first)
            batch = []
    if batch:
        _insert_batch(conn, plan, batch, first)
    return count


def _insert_batch(conn: Connection, plan: TablePlan, rows: list[dict], first: int) -> None:
    try:
        conn.execute(insert(plan.table), rows)
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split())[:300]
        last = first + len(rows) - 1
        raise ImportRefused(f"{plan.file_name}:{first}-{last}: the database refused these rows "
                            f"({reason}); nothing was imported") from None


def _reset_id_sequences(conn: Connection, plans: list[TablePlan]) -> None:
    """Move each PostgreSQL id sequence past the imported ids, so the next insert gets a fresh id.

    SQLite needs nothing: an INTEGER PRIMARY KEY takes max(id) + 1 by itself.
    """
    if conn.dialect.name != "postgresql":
        return
    quote = conn.dialect.identifier_preparer
    for plan in plans:
        if len(plan.primary_key) != 1 or not isinstance(plan.table.c[plan.primary_key[0]].type, Integer):
            continue
        column = plan.table.c[plan.primary_key[0]]
        conn.execute(
            select(func.setval(func.pg_get_serial_sequence(quote.format_table(plan.table), column.name),
                               func.coalesce(func.max(column), 0) + 1, False))
        )
