"""Fault injection for crash tests: pause at a named point so a test can SIGKILL the process there.

Set ``LEADSCORE_FAULT_PAUSE=<point>`` and ``LEADSCORE_FAULT_MARKER=<file>``: when the process
reaches that point it creates the marker file and sleeps, and the test kills it. With
``LEADSCORE_FAULT_MARK=<point>`` instead, it creates the marker and goes on: the test kills it a
moment later, in the middle of what follows the point (a COMMIT writing its WAL, a checkpoint).
Unset (always, in normal use), ``fault_point`` is two dictionary lookups and nothing else.

Points: ``api.before_commit`` (a server write group), ``store.commit`` (any store transaction),
``store.migrate.N.I`` (step I of migration N), ``store.close`` (before the closing checkpoint),
``lead_rows.refresh`` (the server's refresh of the leads list's marked rows, ``storage.lead_rows_later``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def fault_point(name: str) -> None:
    """Pause here if a crash test asked for it (see module docstring)."""
    pause = os.environ.get("LEADSCORE_FAULT_PAUSE") == name
    if not pause and os.environ.get("LEADSCORE_FAULT_MARK") != name:
        return
    marker = os.environ.get("LEADSCORE_FAULT_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    if pause:
        time.sleep(float(os.environ.get("LEADSCORE_FAULT_SECONDS", "120")))
