"""Claims left by a process that is gone, as a killed `mailbot serve` or `campaign send` leaves them."""
from __future__ import annotations

import subprocess
import sys

from mailbot.leases import owner_of


def gone_owner() -> str:
    """The claim owner name of a process of this host that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        return owner_of(process.pid)
    finally:
        process.kill()
        process.wait()
