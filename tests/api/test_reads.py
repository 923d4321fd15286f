"""Cursors are opaque round trips; a tampered or foreign cursor is refused, never misread."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadscore.api.cursors import ID_POSITION, SCORE_POSITION, decode_cursor, encode_cursor, next_page
from leadscore.api.values import InvalidInput

FILTERS = {"model": "b2b", "tier": None, "min": None}

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8)


#: what a stored contact id can be: any text but NUL and lone surrogates (refused on the way in)
STORABLE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=50)


@given(score=st.floats(allow_nan=False, allow_infinity=False), contact=STORABLE)
def test_cursor_round_trip_is_exact(score: float, contact: str) -> None:
    token = encode_cursor([score, contact], FILTERS)
    assert token.isascii() and "=" not in token
    assert decode_cursor(token, FILTERS, SCORE_POSITION) == [score, contact]  # floats survive exactly


@given(garbage=st.text(max_size=80))
def test_garbage_is_a_422_not_a_crash(garbage: str) -> None:
    try:
        position = decode_cursor(garbage, FILTERS, SCORE_POSITION)
    except InvalidInput as exc:
        assert exc.errors[0]["loc"] == ["query", "cursor"]
    else:  # only a well-formed token for these filters gets through
        assert isinstance(position[0], float) and isinstance(position[1], str)


@given(after=JSON)
def test_any_json_position_is_the_shape_asked_for_or_a_422(after: Any) -> None:
    raw = json.dumps({"after": after, "filters": FILTERS}).encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    for shape in (SCORE_POSITION, ID_POSITION):
        try:
            position = decode_cursor(token, FILTERS, shape, param="page")
        except InvalidInput as exc:
            assert exc.errors[0]["loc"] == ["query", "page"] and "cursor" in exc.errors[0]["msg"]
        else:
            assert len(position) == len(shape)
            for value, kind in zip(position, shape, strict=True):
                assert type(value) is kind and (isinstance(value, str) or math.isfinite(value))


def test_a_cursor_for_other_filters_is_refused() -> None:
    token = encode_cursor([1.0, "c1"], FILTERS)
    with pytest.raises(InvalidInput, match="other filters.*keep model, tier and min the same"):
        decode_cursor(token, {**FILTERS, "tier": "sql"}, SCORE_POSITION)


def test_deep_nesting_is_a_422_not_a_recursion_error() -> None:
    token = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    with pytest.raises(InvalidInput, match="not a cursor this API made"):
        decode_cursor(token, FILTERS, SCORE_POSITION)


def test_an_integer_score_reads_back_as_a_number() -> None:
    assert decode_cursor(encode_cursor([3, "c1"], FILTERS), FILTERS, SCORE_POSITION) == [3.0, "c1"]


def test_next_page_only_when_a_row_is_left_over() -> None:
    assert next_page([1, 2], 2, lambda r: [str(r)], {}) == ([1, 2], None)
    page, token = next_page([1, 2, 3], 2, lambda r: [str(r)], {"list": "x"})
    assert page == [1, 2] and token is not None
    assert decode_cursor(token, {"list": "x"}, ID_POSITION) == ["2"]
