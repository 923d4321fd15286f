"""``--as-of`` and model dates: every way to write a time, and a clear error for the rest."""

from __future__ import annotations

from datetime import datetime

import pytest

from leadscore.errors import LeadscoreError, ModelError
from leadscore.model.loader import parse_model
from leadscore.model.validate import validate_model
from leadscore.timeutil import parse_as_of


def test_dates_timestamps_and_offsets() -> None:
    assert parse_as_of("2025-01-01") == datetime(2025, 1, 1)
    assert parse_as_of("2025-01-01T12:30:00+02:00") == datetime(2025, 1, 1, 10, 30)
    assert parse_as_of("2025-01-01T12:30:00Z") == datetime(2025, 1, 1, 12, 30)


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "yesterday"])
def test_out_of_range_or_unreadable_is_one_clear_error(text: str) -> None:
    with pytest.raises(LeadscoreError):
        parse_as_of(text)


def test_a_model_date_out_of_range_is_a_validation_error() -> None:
    text = ("version: 1\nname: m\ngroups:\n  fit:\n    rules:\n"
            "      - {name: old, when: {property: created_at, gte: '0001-01-01T00:00:00+01:00'}, points: 1}\n")
    with pytest.raises(ModelError) as caught:
        validate_model(parse_model(text, "m.yml"))
    [error] = [i for i in caught.value.issues if i.severity == "error"]
    assert error.line == 6 and "not a date" in error.message
