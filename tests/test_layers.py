"""The layer table of docs/architecture.md is true: no package imports one above it.

The table is read from the document itself (its ``## Layers`` section: a layer number, then the
packages in backticks), so the document and this test cannot drift apart. Every import counts,
including those inside functions (lazy) and under ``TYPE_CHECKING``: a package that needs a name
from a higher layer, even only for a type, is in the wrong place.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "leadscore"
#: ``from leadscore import __version__`` reads the package's version string, not a layer.
FREE = {"__version__"}


def layer_table() -> tuple[dict[str, int], set[str]]:
    """``{package: layer}`` and the packages marked as peers (same layer, may import each other)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    peers: set[str] = set()
    for line in section.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if not m:
            continue
        names = [n.strip("/").removesuffix(".py") for n in re.findall(r"`([^`]+)`", m.group(2))]
        for name in names:
            layers[name] = int(m.group(1))
        if "peers" in m.group(2):
            peers.update(names)
    return layers, peers


def owner(path: Path) -> str:
    """The top-level package (or module) of ``src/leadscore`` that a file belongs to."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level leadscore package) for every import in the file."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "leadscore":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:  # from leadscore import library, __version__
                for alias in node.names:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "leadscore" and len(parts) > 1:
                    yield node.lineno, parts[1]


def test_the_table_names_every_package() -> None:
    layers, _ = layer_table()
    found = {owner(p) for p in PACKAGE.rglob("*.py")} - {"__init__", "__main__", "py"}
    assert found - set(layers) == set(), "add these to the layer table of docs/architecture.md"
    assert set(layers) - found - {"__init__", "__main__"} == set(), "the table names packages that do not exist"


def test_no_package_imports_one_above_it() -> None:
    layers, peers = layer_table()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        mine = owner(path)
        for line, target in imported(path):
            if target == mine or target in FREE:
                continue
            if layers[target] < layers[mine] or (layers[target] == layers[mine] and {mine, target} <= peers):
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {mine} (layer {layers[mine]}) imports "
                         f"{target} (layer {layers[target]})")
    assert wrong == [], "\n".join(wrong)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The check itself can fail: an upward import, lazy and type-only ones included, is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from leadscore.api.app import x\n"
                   "def f():\n    import leadscore.cli.main\n    from leadscore import library\n")
    assert [t for _, t in imported(bad)] == ["api", "cli", "library"]
