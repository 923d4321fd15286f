"""The CLI stays thin and starts fast: no command runs SQL or opens a store itself, and
``leadscore --help`` / ``leadscore validate`` import none of the heavy libraries.

Speed is a benchmark's business (``python -X importtime``, figures in docs/architecture.md); what
this checks is the cause of the speed: which modules a command loads.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).parents[2] / "src" / "leadscore" / "cli"
HEAVY = {"lightgbm", "sklearn", "scipy", "fastapi", "starlette", "uvicorn", "plotly", "pyarrow", "numpy",
         "sqlglot", "jinja2", "pyspark"}


def _imported(args: list[str], cwd: Path) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "leadscore", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return {m.group(1).split(".")[0] for m in re.finditer(r"\|\s+([\w.]+)\s*$", done.stderr, re.M)}


@pytest.mark.parametrize("args", [["--help"], ["validate"], ["score", "--help"]])
def test_light_commands_import_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "leadscore", "init", str(tmp_path / "ws")], check=True,
                   capture_output=True, timeout=120)
    loaded = _imported(args, tmp_path / "ws")
    assert "typer" in loaded  # the check sees imports at all
    assert loaded & HEAVY == set()


def test_no_command_runs_sql_or_opens_a_store() -> None:
    """Every command is one library call: the SQL and the store belong to the library."""
    offenders = [f"{path.name}:{n}" for path in sorted(CLI.glob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"\.execute\(|open_store\(|\.con\b|Store\.open", line)]
    assert offenders == []
