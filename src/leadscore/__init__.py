"""leadscore: lead scoring models as code, compiled to SQL, point-in-time correct.

The library mirrors the CLI one function per command (see ``leadscore.library``)::

    import leadscore
    leadscore.score(workspace="acme", as_of="2025-06-30")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LIBRARY = (
    "init", "import_file", "validate", "publish", "score", "score_one", "explain", "preview",
    "preview_tiers", "export_scores", "export_predictions", "export_data", "top", "open_store",
    # accounts (issue 15)
    "score_company", "top_accounts", "accounts_for_owner", "account_detail",
    # workflows (issue 4)
    "deliveries", "delivery_counts", "delivery_attempts", "retry_deliveries", "purge_deliveries",
    "run_worker", "lists", "list_members", "export_list", "tasks", "complete_task",
    # reports, audits, backtests (issue 5)
    "backtest", "report", "suggest",
    # predictive scoring (issue 3)
    "train", "predict", "refresh_predictions",
    # property history (issue 14)
    "import_history", "history",
)
#: looking after a workspace (leadscore.admin)
_ADMIN = ("compile", "validate_models", "schema", "models", "create_key", "keys", "revoke_key", "serve", "build_demo",
          "create_user", "list_users", "disable_user", "reset_password")

__all__ = [*_LIBRARY, *_ADMIN, "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import leadscore` stays cheap and `leadscore --help` starts fast.
    if name in _LIBRARY:
        from leadscore import library

        return getattr(library, name)
    if name in _ADMIN:
        from leadscore import admin

        return getattr(admin, name)
    raise AttributeError(f"module 'leadscore' has no attribute {name!r}")
