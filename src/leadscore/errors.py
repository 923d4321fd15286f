"""The error hierarchy: every failure a user can cause is a LeadscoreError with an actionable message.

The CLI prints ``str(error)`` and exits with status 2; the library lets it propagate. Nothing else is
caught, so a traceback always means a bug in leadscore rather than in the user's input.
"""

from __future__ import annotations

from dataclasses import dataclass


class LeadscoreError(Exception):
    """Base class of every error leadscore raises on purpose."""


@dataclass(frozen=True)
class ModelIssue:
    """One problem found in a model file: where it is, what is wrong, and how to fix it."""

    file: str
    path: str
    message: str
    line: int | None = None
    hint: str | None = None
    severity: str = "error"  # "error" stops the run; "warning" is printed and the run goes on

    def __post_init__(self) -> None:
        # a key or value holding a lone surrogate must not make the report itself unprintable
        # (a traceback in the CLI, a 500 in the API): such characters are shown as \udXXX
        for name in ("file", "path", "message", "hint"):
            text = getattr(self, name)
            if isinstance(text, str) and not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    object.__setattr__(self, name, text.encode("utf-8", "backslashreplace").decode("utf-8"))

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        text = f"{where}: {self.severity}: at `{self.path or '(top)'}`: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class ModelError(LeadscoreError):
    """A scoring model that does not validate. Carries every issue found, not just the first."""

    def __init__(self, issues: list[ModelIssue]):
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        head = f"{len(errors)} error(s) in scoring model"
        super().__init__(head + ":\n" + "\n".join("  " + str(i) for i in issues))


class ImportError_(LeadscoreError):
    """An import that cannot proceed (unreadable file, missing required column, --strict violation)."""


class StoreError(LeadscoreError):
    """The workspace or its DuckDB store is missing, locked, or from an unknown schema version."""


class WorkspaceError(StoreError):
    """No workspace where one was expected, or a bad leadscore.yml."""


class BackendError(LeadscoreError):
    """A SQL engine refused or failed a compiled query."""


class NotFoundError(LeadscoreError):
    """A contact, model or version that does not exist."""


class TimeLimitError(LeadscoreError):
    """Work that ran past the time allowed for it (a preview or explain over the API): stopped,
    nothing written. The message names the limit and how to stay under it."""


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of an engine's or a library's error, for a message of ours: their texts run on
    for pages (Java stack traces, SQL echoes). An error with no text gives its class name."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit] if limit is not None else line
