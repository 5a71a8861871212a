"""The mail templates and the rules files shipped with the package, read with importlib.resources.

They are edited at the top of the repository (`templates/`, `rules/`) and installed inside the
package as `mailbot.templates` and `mailbot.shipped_rules` (pyproject.toml maps the folders in), so
an installed bot finds them wherever it runs. A checkout run from its source tree without
installing it (PYTHONPATH) has no such packages: the top-level folders are read instead.
"""
from __future__ import annotations

from contextlib import contextmanager
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Iterator

TEMPLATES_PACKAGE = "mailbot.templates"
RULES_PACKAGE = "mailbot.shipped_rules"
DEFAULT_RULES_FILE = "campagne-2012.toml"
_SOURCE_TREE = Path(__file__).resolve().parent.parent


def _folder(package: str, source_folder: str) -> Traversable:
    try:
        found = files(package)
        if found.is_dir():
            return found
    except ModuleNotFoundError:
        pass
    return _SOURCE_TREE / source_folder


def templates() -> Traversable:
    """The folder of the shipped templates (`<audience>_<purpose>.{subject,txt,html}.j2`)."""
    return _folder(TEMPLATES_PACKAGE, "templates")


def template_source(name: str) -> str | None:
    """The text of shipped template `name`, or None when there is no such template."""
    item = templates().joinpath(name)
    return item.read_text(encoding="utf-8") if item.is_file() else None


def rules_file(name: str = DEFAULT_RULES_FILE) -> Traversable:
    return _folder(RULES_PACKAGE, "rules").joinpath(name)


@contextmanager
def default_rules_path() -> Iterator[Path]:
    """The shipped rules file as a path on disk for as long as the block runs (a zipped install
    extracts it to a temporary file)."""
    with as_file(rules_file()) as path:
        yield path
