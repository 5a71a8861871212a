"""Export the whole store as JSON Lines, and import such an export into an empty store.

One `<table>.jsonl` file per table of the metadata (parents first), plus a `manifest.json`; the
format is documented for humans in docs/export-format.md. The tables and their columns come from
`store.schema.metadata`, so a table added by a later migration is exported without code changes;
only a column type without a codec below needs code (building the plan fails loudly then).

Exports are canonical: the same store always gives byte-identical files, so export → import into
an empty store → export reproduces the directory exactly. Imports are all or nothing: every line is
validated (syntax, columns, types, keys) before the first row is written, then everything is
inserted in one transaction.

Modules: `format` (constants, errors), `codecs` (one value per column type), `plans` (tables and
keys), `export`, `load` (the import).
"""
from store.exchange.export import export_atlas  # noqa: F401
from store.exchange.format import BadValue, ExportFailed, ImportRefused  # noqa: F401
from store.exchange.load import import_atlas  # noqa: F401
from store.exchange.plans import table_plans  # noqa: F401
