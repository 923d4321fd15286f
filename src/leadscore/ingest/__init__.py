"""Importing contacts, events and deals from CSV, Parquet and JSON lines into the store.

``import_file(store, kind, path, mapping=...)`` is the whole API; ``load_mapping`` reads a YAML
column mapping. See importer.py for the steps and docs/architecture.md for the contract.
"""

from leadscore.ingest.importer import ImportResult, import_file
from leadscore.ingest.mapping import ColumnMapping, load_mapping, snake_case

__all__ = ["ColumnMapping", "ImportResult", "import_file", "load_mapping", "snake_case"]
