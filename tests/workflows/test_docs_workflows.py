"""docs/workflows.md documents every setting and command of the workflows, and its receiver-side
signature check really verifies what the worker signs."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from leadscore.workflows.signing import sign
from leadscore.workspace import DEFAULT_SETTINGS_TEXT, DeliverySettings, SegmentSettings, SmtpSettings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "workflows.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("section", "cls"), [("delivery", DeliverySettings), ("smtp", SmtpSettings),
                                              ("segments", SegmentSettings)])
def test_every_setting_is_documented(section: str, cls: type[BaseModel]) -> None:
    for key in cls.model_fields:
        assert re.search(rf"\b{key}\b", DOC), f"`{section}.{key}` is not in docs/workflows.md"
        if section != "segments":
            assert re.search(rf"^  {key}:", DEFAULT_SETTINGS_TEXT, re.MULTILINE), f"{key} not in leadscore.yml"


def test_every_command_is_shown() -> None:
    for command in ("leadscore worker", "leadscore deliveries --status dead", "leadscore deliveries retry",
                    "leadscore deliveries show", "leadscore deliveries purge", "leadscore tasks",
                    "leadscore lists show", "leadscore lists export"):
        assert command in DOC, command


def test_the_receiver_snippet_verifies_the_worker_signature() -> None:
    [snippet] = [b for b in re.findall(r"```python\n(.*?)```", DOC, re.DOTALL) if "def verify_leadscore" in b]
    scope: dict[str, object] = {}
    exec(compile(snippet, "docs/workflows.md", "exec"), scope)  # noqa: S102 (our own documentation)
    verify = scope["verify_leadscore_signature"]
    body = b'{"id":"x","type":"workflow.fired"}'
    header = sign("whsec", body, int(time.time()))
    assert verify("whsec", body, header)  # type: ignore[operator]
    assert not verify("other", body, header)  # type: ignore[operator]
    assert not verify("whsec", body + b" ", header)  # type: ignore[operator]
    assert not verify("whsec", body, sign("whsec", body, int(time.time()) - 3600))  # type: ignore[operator]
    assert not verify("whsec", body, "garbage")  # type: ignore[operator]
