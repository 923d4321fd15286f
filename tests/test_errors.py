"""errors.first_line: the line of a third party's error that goes into our messages."""

from __future__ import annotations

from leadscore.errors import first_line


def test_first_line_of_long_empty_and_indented_texts() -> None:
    assert first_line(RuntimeError("refused\n  at org.apache.spark...\n  at ...")) == "refused"
    assert first_line(RuntimeError("x" * 900), 300) == "x" * 300
    assert first_line(RuntimeError("\n  leading blank\nnext")) == "leading blank"
    assert first_line(RuntimeError()) == "RuntimeError"  # `str(exc).splitlines()[0]` raised IndexError here
