"""Migration: the predictive tables: trained model artefacts (LightGBM text + JSON, no pickle) and the
latest prediction per contact.

Part of the numbered list in ``storage/schema.py``; never edit it once it has shipped.
"""

from __future__ import annotations

PREDICT_MIGRATION: list[str] = []
