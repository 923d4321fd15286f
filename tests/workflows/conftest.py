"""Fixtures of the workflow tests (the helpers they use live in ``helpers.py``)."""

from tests.workflows.helpers import make_ws

__all__ = ["make_ws"]
