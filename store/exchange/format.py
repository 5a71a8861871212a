"""The export format's constants and errors (docs/export-format.md)."""
from __future__ import annotations

import json

from store.db import StoreError

FORMAT_NAME = "atlas-mailbot-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SKIPPED_TABLES = frozenset({"alembic_version"})  # schema bookkeeping, recreated by `mailbot init`
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
