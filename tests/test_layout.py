"""The shape of the tree: no import cycle between project modules, no project import hidden in a
function body, and every module importable first, on its own.

The graph is read from the source (ast), so a cycle fails here even when today's import order happens
to work. `from package import name` counts as an import of `package.name` when that is a module.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mailbot", "store")


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue  # Alembic loads these by path, not by import
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _is_project(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _resolve(node: ast.AST, current: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    """The project modules one import statement names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if _is_project(alias.name)]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        anchor = current.split(".") if is_package else current.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    if not _is_project(base):
        return []
    targets = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        targets.append(submodule if submodule in modules else base)
    return targets


def import_graph(modules: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """module → project modules it imports; and the imports found inside function bodies."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    nested: list[str] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = [t for t in _resolve(node, name, is_package, modules) if t != name]
            graph[name].update(t for t in targets if t in modules)
            if targets and id(node) not in top_level and not _guarded_top_level(tree, node):
                nested.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return graph, nested


def _guarded_top_level(tree: ast.Module, node: ast.AST) -> bool:
    """An import under a top-level `if TYPE_CHECKING:` (or try) is still a module-level import."""
    for statement in tree.body:
        if isinstance(statement, (ast.If, ast.Try)) and any(n is node for n in ast.walk(statement)):
            return True
    return False


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), plus self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_project_modules():
    graph, _ = import_graph(project_modules())
    # Only imports the code wrote are edges: a submodule that imports a name from its own package's
    # __init__ (`from mailbot.cli import main`) while that __init__ imports it back is a cycle too.
    assert cycles(graph) == [], f"import cycles: {cycles(graph)}"


def test_no_project_import_inside_a_function():
    _, nested = import_graph(project_modules())
    assert nested == [], f"imports of project modules inside function bodies: {nested}"


def test_the_checker_sees_a_cycle_and_a_nested_import():
    """The checks above can fail: a two-module cycle and a function-level import are found."""
    graph = {"mailbot.a": {"mailbot.b"}, "mailbot.b": {"mailbot.a"}, "mailbot.c": set()}
    assert cycles(graph) == [["mailbot.a", "mailbot.b"]]
    tree = ast.parse("def f():\n    from mailbot.config import Config\n")
    inner = tree.body[0].body[0]
    assert _resolve(inner, "mailbot.x", False, {"mailbot.config": Path()}) == ["mailbot.config"]
    assert not _guarded_top_level(tree, inner) and id(inner) not in {id(n) for n in tree.body}


def test_every_module_imports_first_on_its_own():
    """Each module imported into a fresh interpreter state of the project (its own modules removed
    from sys.modules between imports): a hidden order dependency fails here."""
    names = sorted(name for name in project_modules() if not name.endswith("__main__"))  # runs the CLI
    script = (
        "import importlib, sys\n"
        f"names = {names!r}\n"
        "failed = []\n"
        "for name in names + names[::-1]:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in ('mailbot', 'store')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {exc!r}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
