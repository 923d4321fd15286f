"""The HTTP API: ``create_app(ws)`` builds it, ``leadscore serve`` runs it (docs/api.md).

Layout: ``app.py`` wires everything; ``routes_*.py`` one router per area; ``schemas.py`` request
and response shapes; ``values.py`` checks against the store's columns; ``writes.py`` / ``reads.py``
the SQL; ``writer.py`` the single writer thread; ``runtime.py`` what a running server holds;
``auth.py`` + ``keys.py`` API keys; ``limits.py`` body limits; ``metrics.py`` Prometheus;
``server.py`` uvicorn. Its benchmark is ``leadscore.bench.api`` (``leadscore bench api``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadscore.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy: `leadscore keys` needs api.keys, not FastAPI.
    if name == "create_app":
        from leadscore.api.app import create_app

        return create_app
    raise AttributeError(f"module 'leadscore.api' has no attribute {name!r}")
