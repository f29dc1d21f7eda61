"""The house's layout holds: no import cycle, the pure core imports no provider SDK, and no
module or function is too long to read."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.builders import ROOT

PACKAGES = ("notifier", "workers")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every notifier module ``path`` imports, at module level or inside a function
    (an import hidden in a function is still a dependency), TYPE_CHECKING ones excepted."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for b in node.body for n in ast.walk(b))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    known = {module_name(p) for p in paths}
    edges = {module_name(p): imports_of(p, known) - {module_name(p)} for p in paths}
    # importing a.b.c imports its packages' __init__ first: not a dependency of ours to count
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in edges.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or parts[0] == "workers" else module


def test_no_import_cycle_between_modules() -> None:
    assert cycles(graph()) == []


def test_no_import_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = {}
    for module, deps in graph().items():
        packages.setdefault(package_of(module), set()).update(
            package_of(d) for d in deps if package_of(d) != package_of(module)
        )
    assert cycles(packages) == []


@pytest.mark.parametrize(
    "module",
    ["notifier.templates.renderer", "notifier.rules.lint", "notifier.rules.preview"],
    ids=["templates", "rules-lint", "rules-preview"],
)
def test_the_pure_core_imports_no_provider_sdk(module: str) -> None:
    sdks = ("twilio", "pywebpush", "py_vapid", "aiosmtplib", "dramatiq")
    probe = f"import sys, {module}; print(sorted(m for m in {sdks!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Modules not held to the sizes, each with its reason.
EXEMPT: dict[str, str] = {}


def oversized() -> list[str]:
    """Each module over MAX_MODULE_LINES lines and function over MAX_FUNCTION_LINES lines."""
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if any(where.startswith(folder) for folder in EXEMPT):
                continue
            source = path.read_text()
            if (lines := len(source.splitlines())) > MAX_MODULE_LINES:
                found.append(f"{where}: {lines} lines")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        found.append(f"{where}:{node.lineno} {node.name}(): {length} lines")
    return found


def test_no_module_or_function_is_too_long() -> None:
    assert oversized() == []
