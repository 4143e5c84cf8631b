"""The import arrows the package docstrings promise: data flows one way, and batch has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "training", "serving", "eval")


def imports_of(path: Path) -> set[str]:
    """Every project module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def modules(package: str) -> dict[str, set[str]]:
    return {
        ".".join(p.relative_to(REPO).with_suffix("").parts): imports_of(p)
        for p in sorted((REPO / package).rglob("*.py"))
    }


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("model", ("training", "serving", "eval")), ("training", ("serving", "eval"))],
)
def test_lower_layers_never_import_upper_ones(package: str, forbidden: tuple[str, ...]) -> None:
    bad = {m: sorted(i for i in imps if i.split(".")[0] in forbidden) for m, imps in modules(package).items()}
    assert not {m: i for m, i in bad.items() if i}, f"{package} must not import {forbidden}"


def test_only_benchmarks_in_eval_import_serving() -> None:
    bad = {
        m: sorted(i for i in imps if i.startswith("serving"))
        for m, imps in modules("eval").items()
        if not m.startswith("eval.bench")
    }
    assert not {m: i for m, i in bad.items() if i}


# The CLI: serving/cli.py and the sub-apps it registers with app.add_typer (framing annotate ...).
CLI_MODULES = ("serving.cli", "serving.annotate_cli")


def test_only_the_cli_in_serving_imports_training_or_eval() -> None:
    bad = {
        m: sorted(i for i in imps if i.split(".")[0] in ("training", "eval"))
        for m, imps in modules("serving").items()
        if m not in CLI_MODULES
    }
    assert not {m: i for m, i in bad.items() if i}


def test_batch_package_has_no_import_cycle() -> None:
    graph = {m: {i for i in imps if i.startswith("serving.batch.")} for m, imps in modules("serving").items()}
    graph = {m: deps for m, deps in graph.items() if m.startswith("serving.batch.")}

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"import cycle: {' -> '.join((*path, node))}"
        for dep in graph.get(node, ()):
            visit(dep, (*path, node))

    assert len(graph) >= 8, sorted(graph)  # the steps really are separate modules
    for module in graph:
        visit(module, ())
