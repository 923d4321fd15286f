"""Fault injection for crash tests: pause at a named point so a test can SIGKILL the process there.

Set ``LEADSCORE_FAULT_PAUSE=<point>`` and ``LEADSCORE_FAULT_MARKER=<file>``: when the process
reaches that point it creates the marker file and sleeps, and the test kills it. Unset (always, in
normal use), ``fault_point`` is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def fault_point(name: str) -> None:
    """Pause here if a crash test asked for it (see module docstring)."""
    if os.environ.get("LEADSCORE_FAULT_PAUSE") != name:
        return
    marker = os.environ.get("LEADSCORE_FAULT_MARKER")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("LEADSCORE_FAULT_SECONDS", "120")))
