"""The shape of the code: dependencies point one way, and no module imports another in a circle.

Layers, bottom to top, one folder each: the generic helpers (prepapp/lib), the care records
(prepapp itself: models and their plain verbs), the checklists, the reminder engine
(prepapp/reminders), the workflows that span all three (prepapp/workflows), the FHIR mapping
that reads them and writes through the workflows (prepapp/fhir), the API on top of them
(prepapp/api), and the site (frontend pages; config wires it all). A module may import from its
own layer and the ones below, never from above; migrations follow the same direction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db.migrations.loader import MigrationLoader

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("prepapp", "checklists", "frontend", "config")

# (layer name, package prefixes): one folder per layer. The most specific prefix decides a module's layer.
LAYERS = [
    ("lib", ["prepapp.lib"]),
    ("care", ["prepapp"]),
    ("checklists", ["checklists"]),
    ("reminders", ["prepapp.reminders"]),
    ("workflows", ["prepapp.workflows"]),
    # FHIR R4 in and out: maps the records to and from FHIR resources, writes only through the workflows.
    ("fhir", ["prepapp.fhir"]),
    # Django looks for an app's commands in its own management/ folder: they are entry points, like the API.
    ("api", ["prepapp.api", "prepapp.management"]),
    ("site", ["frontend", "config"]),
]
APP_LAYERS = {"prepapp": "care", "checklists": "checklists", "reminders": "reminders", "fhir": "fhir"}
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


MODULES = project_modules()


def layer_of(module: str) -> str:
    best, best_len = None, -1
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = name, len(prefix)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS in {Path(__file__).name}"
    return best


def imports_of(module: str) -> list[tuple[str, int, bool]]:
    """The project modules `module` imports: (target, line, whether the import sits inside a function)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.extend((t, child.lineno, in_function) for t in resolve(alias.name, []))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                found.extend((t, child.lineno, in_function) for t in resolve(base, [a.name for a in child.names]))
            visit(child, nested)

    visit(tree, False)
    return found


def resolve(base: str, names: list[str]) -> list[str]:
    """Project modules named by an import: `from pkg import submodule` names the submodule itself."""
    if base.split(".")[0] not in PACKAGES:
        return []
    targets = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
    if len(targets) < len(names) or not names:
        # Names that are not submodules come from the module (or package) itself.
        while base and base not in MODULES:
            base = base.rpartition(".")[0]
        if base:
            targets.append(base)
    return targets


def import_graph() -> dict[str, set[str]]:
    return {m: {t for t, _, _ in imports_of(m) if t != m} for m in MODULES}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: every group of modules that import each other, directly or not."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_the_graph_sees_the_imports():
    """A guard on the test itself: known edges are found, so an empty graph cannot pass by accident."""
    graph = import_graph()
    assert "prepapp.reminders.outbox" in graph["prepapp.reminders.tasks"]
    assert "prepapp.reminders.channels" in graph["prepapp.reminders.delivery"]
    assert "checklists.models" in graph["prepapp.reminders.planning"]
    assert "prepapp.models" in graph["checklists.models"] or "prepapp.models" in graph["checklists.services"]


def test_no_import_cycle_between_the_projects_modules():
    cycles = [group for group in strongly_connected(import_graph()) if len(group) > 1]
    assert cycles == [], f"modules that import each other in a circle: {cycles}"


def test_a_cycle_would_be_found():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"], ["d"]]


def test_dependencies_point_down_the_layers():
    upward = []
    for module in MODULES:
        for target, line, _ in imports_of(module):
            if RANK[layer_of(target)] > RANK[layer_of(module)]:
                upward.append(f"{module}:{line} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    assert upward == []


def test_no_import_is_hidden_inside_a_function():
    """Imports of the project's own modules sit at the top of the module, where the graph can see them."""
    hidden = [f"{m}:{line} imports {t}" for m in MODULES for t, line, inside in imports_of(m) if inside]
    assert hidden == []


@pytest.mark.django_db
def test_migrations_depend_downward_only():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    upward = []
    for (app, name), migration in loader.disk_migrations.items():
        if app not in APP_LAYERS:
            continue
        for dep_app, dep_name in migration.dependencies:
            if dep_app in APP_LAYERS and RANK[APP_LAYERS[dep_app]] > RANK[APP_LAYERS[app]]:
                upward.append(f"{app}.{name} depends on {dep_app}.{dep_name}")
    assert upward == []
    assert ("reminders", "0001_initial") in loader.disk_migrations
