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


def lazy_exports() -> dict[str, str]:
    """``from leadscore import score`` reads a lazy export of the package: its home module."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    homes = {"_LIBRARY": "library", "_ADMIN": "admin"}
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if isinstance(target, ast.Name) and target.id in homes and node.value is not None:
                found.update(dict.fromkeys(ast.literal_eval(node.value), homes[target.id]))
    return found


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level leadscore package or module) for every import in the file: absolute and
    relative ``import``/``from`` statements, ``importlib.import_module("leadscore...")`` with a
    literal name, and a bare ``import leadscore`` (the package itself, the top layer)."""
    here = ["leadscore", *path.relative_to(PACKAGE).with_suffix("").parts]
    if here[-1] == "__init__":
        here = here[:-1]
    package = here if path.name == "__init__.py" else here[:-1]
    exports = lazy_exports()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                base = package[: len(package) - node.level + 1]
                parts = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module:
                parts = node.module.split(".")
            else:
                continue
            if parts[0] != "leadscore":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:  # from leadscore import library, __version__, score
                for alias in node.names:
                    yield node.lineno, exports.get(alias.name, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "leadscore":
                    yield node.lineno, parts[1] if len(parts) > 1 else "__init__"
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            parts = node.args[0].value.split(".")
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
            if target not in layers:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {target}, which the table does not name")
                continue
            if layers[target] < layers[mine] or (layers[target] == layers[mine] and {mine, target} <= peers):
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {mine} (layer {layers[mine]}) imports "
                         f"{target} (layer {layers[target]})")
    assert wrong == [], "\n".join(wrong)


def test_the_checker_sees_a_violation() -> None:
    """The check itself can fail: an upward import, lazy, type-only, relative, dynamic ones and a
    lazy export of the package included, is found."""
    bad = PACKAGE / "engine" / "_layers_probe.py"  # never written: read through a stand-in below
    text = ("from typing import TYPE_CHECKING\nimport importlib\nif TYPE_CHECKING:\n"
            "    from leadscore.api.app import x\n"
            "def f():\n    import leadscore.cli.main\n    from leadscore import library, score, build_demo\n"
            "    from ..reports import build\n    from .run import run_model\n"
            "    importlib.import_module('leadscore.web.app')\n    import leadscore\n")

    class Probe(type(bad)):  # type: ignore[misc]
        def read_text(self, *args: object, **kwargs: object) -> str:
            return text

    found = [t for _, t in sorted(imported(Probe(bad)), key=lambda found: found[0])]
    assert found == ["api", "cli", "library", "library", "admin", "reports", "engine", "web", "__init__"]
