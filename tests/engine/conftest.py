"""Fixtures of the engine tests: the workflow tests' ``make_ws`` (a workspace with a scored model)."""

from tests.workflows.helpers import make_ws

__all__ = ["make_ws"]
