"""Cursors are opaque round trips; a tampered or foreign cursor is refused, never misread."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadscore.api.reads import decode_cursor, encode_cursor
from leadscore.api.values import InvalidInput

FILTERS = {"model": "b2b", "tier": None, "min": None}


@given(score=st.floats(allow_nan=False, allow_infinity=False), contact=st.text(max_size=50))
def test_cursor_round_trip_is_exact(score: float, contact: str) -> None:
    token = encode_cursor({"after": [score, contact], "filters": FILTERS})
    assert token.isascii() and "=" not in token
    assert decode_cursor(token, FILTERS)["after"] == [score, contact]  # floats survive exactly


@given(garbage=st.text(max_size=80))
def test_garbage_is_a_422_not_a_crash(garbage: str) -> None:
    try:
        data = decode_cursor(garbage, FILTERS)
    except InvalidInput as exc:
        assert exc.errors[0]["loc"] == ["query", "cursor"]
    else:  # only a well-formed token for these filters gets through
        assert data["filters"] == FILTERS


def test_a_cursor_for_other_filters_is_refused() -> None:
    token = encode_cursor({"after": [1.0, "c1"], "filters": FILTERS})
    with pytest.raises(InvalidInput, match="other filters"):
        decode_cursor(token, {**FILTERS, "tier": "sql"})
