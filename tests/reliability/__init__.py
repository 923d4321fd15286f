"""The reliability suite (``make reliability``, ``make reliability-quick``): load, faults, outage,
fuzzing and the security sweep, each printing the figures docs/reliability.md records.

It lives under ``tests/`` rather than ``src/leadscore/bench/``: it is a test of the product, not a
feature of it. It kills processes, starts webhook receivers and fuzzes inputs with hypothesis and
the test helpers (``tests/workflows/receivers.py``, ``tests/api/conftest.py``), none of which a
user's install carries; ``src/leadscore/bench/`` holds what a user runs to time their own machine.
"""
