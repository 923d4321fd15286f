"""The compiler: a ScoringModel becomes one SQL query (a sqlglot AST) for DuckDB, Spark or Postgres.

``compile_model`` returns the AST, ``render_sql`` its text. The compiler never opens a connection;
``engine.run`` executes what it returns. See ``query.py`` for the shape of the query.
"""

from leadscore.compiler.dialects import DIALECTS, UnsupportedError, get_dialect
from leadscore.compiler.query import compile_model, parse_sql, render_sql

__all__ = ["DIALECTS", "UnsupportedError", "compile_model", "get_dialect", "parse_sql", "render_sql"]
