"""Import: every line validated (syntax, columns, types, keys) before the first row is written, then everything inserted in one transaction."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    func,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError

from store.exchange.codecs import describe_value
from store.exchange.export import refuse_missing_tables
from store.exchange.format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    IMPORT_BATCH_ROWS,
    MANIFEST,
    BadValue,
    ImportRefused,
)
from store.exchange.plans import ForeignKeyCheck, TablePlan, table_plans

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
        refuse_missing_tables(conn, plans, ImportRefused)
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
        raise ImportRefused(f"{where}: expected an object, got {describe_value(entry)}")
    name, rows, columns = entry.get("name"), entry.get("rows"), entry.get("columns")
    plan = by_name.get(name) if isinstance(name, str) else None
    if plan is None:
        raise ImportRefused(f"{where}: unknown table {name!r} (the store has {', '.join(by_name)})")
    if entry.get("file") != plan.file_name:
        raise ImportRefused(f"{where}: table {name} must be in file {plan.file_name}, not {entry.get('file')!r}")
    if type(rows) is not int or rows < 0:
        raise ImportRefused(f"{where}: rows of table {name} must be a count, got {describe_value(rows)}")
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
        raise BadValue(f"expected a JSON object, got {describe_value(record)}")
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
