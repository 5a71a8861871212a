"""Every command family, registered on the root group: `main` here is the whole `mailbot` command."""
from __future__ import annotations

import sys

from mailbot.cli import atlas, campaign, demo, dkim, inbox, prefectures, review, web  # noqa: F401  (they register)
from mailbot.cli.app import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
