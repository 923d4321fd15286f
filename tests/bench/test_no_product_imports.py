"""No product package imports the benchmarks or the demo generator: only ``bench``, ``cli`` and
``demo`` itself may (the benchmarks used to live in ``api``, ``ingest``, ``predict`` and
``workflows``, which made those import ``demo``)."""

from __future__ import annotations

import ast
from pathlib import Path

import leadscore

SRC = Path(leadscore.__file__).parent
ALLOWED = {"bench", "cli", "demo"}
ABOVE_THE_PRODUCT = ("leadscore.bench", "leadscore.demo")


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_product_packages_do_not_import_bench_or_demo() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        part = path.relative_to(SRC).parts[0].removesuffix(".py")
        if part in ALLOWED:
            continue
        for name in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            if name.startswith(ABOVE_THE_PRODUCT) and name.split(".")[1] in ("bench", "demo"):
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_benchmarks_live_in_the_bench_package_only() -> None:
    stray = [str(p.relative_to(SRC)) for p in SRC.rglob("*bench*.py")
             if p.relative_to(SRC).parts[0] not in ("bench", "cli")]
    assert stray == []
