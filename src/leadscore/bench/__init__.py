"""Benchmarks: each measures one product path on generated or public data and prints figures.

One module per benchmark, each started by a subcommand of ``leadscore bench`` (``cli/bench_cmd.py``)
and by a ``make`` target that calls it:

- ``score`` (with ``score_run``, the timed child process, and ``score_model``, the 25-rule model
  and its hand-written query): ``leadscore bench score`` / ``make bench``, what ``leadscore score``
  costs against a hand-written DuckDB query, and its peak memory;
- ``api``: ``leadscore bench api`` / ``make bench-api``, a real ``leadscore serve`` under
  concurrent clients (events/s, p50/p99);
- ``imports``: ``leadscore bench import`` / ``make bench-import``, CSV and Parquet imports into
  fresh stores;
- ``predictive``: ``leadscore bench predict`` / ``make bench-predict``, held-out quality on the
  public Leads.csv, training and prediction speed;
- ``workflows``: ``leadscore bench workflows`` / ``make bench-workflows``, a whole-base run with and
  without workflows, and the worker's send rate.

``measure`` holds what they all measure alike (CPU seconds, peak RSS). Benchmarks sit above the
product: they may import any package, ``leadscore.demo``'s generator included, and no product
package imports them. Speed is measured here, never asserted by tests.
"""
