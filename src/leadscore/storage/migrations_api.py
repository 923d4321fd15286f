"""Migration: the HTTP API's tables: API keys (stored hashed, with a scope).

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.
"""

from __future__ import annotations

API_MIGRATION: list[str] = []
