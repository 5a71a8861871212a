"""Table plans: what is exported, in which order (parents first), with which keys and foreign-key checks."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Table,
    UniqueConstraint,
)

from store.exchange.codecs import ColumnCodec, column_codec
from store.exchange.format import SKIPPED_TABLES
from store.schema import metadata

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
