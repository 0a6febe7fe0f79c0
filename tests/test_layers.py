"""The direction of imports between domains, as docs/architecture.md states it, checked on the code itself.

For models and services: partners ← auth ← meetings ← visits ← commitments ← documents, calendars, read models.
An arrow points to what may be imported; nothing imports the other way. The foundation (core, db, errors,
extensions, references, pagination) imports no domain. Views are the outer layer: they may compose the
services of several domains, and nothing but the app factory imports a view.
"""

from __future__ import annotations

import ast
from pathlib import Path

CRM = Path(__file__).resolve().parent.parent / "crm"

FOUNDATION = {"core", "db", "errors", "extensions", "references", "pagination", "forms"}
LAYERS = {
    "audit": 1,
    "partners": 2,
    "auth": 3,
    "meetings": 4,
    "visits": 5,
    "commitments": 6,
    "documents": 7,
    "calendars": 7,
    "readmodels": 7,
    "notifications": 8,
    "search": 8,
    "exchange": 8,
}
OUTER = {"web", "views", "cycle", "cli", "demo", "demo_meetings", "demo_visits", "bench", "ops", "__init__"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crm"):
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if alias.name.startswith("crm"))
    return found


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _inner_modules():
    """Every module of the app but the outer layer (views, the factory, commands, demo and bench)."""
    for path in sorted(CRM.rglob("*.py")):
        relative = path.relative_to(CRM)
        top = relative.parts[0].removesuffix(".py")
        if top in OUTER or path.name in ("views.py", "__init__.py"):
            continue
        yield path, top


def test_domains_import_only_downwards():
    wrong = []
    for path, package in _inner_modules():
        for module in _imports(path):
            target = _package(module)
            if target == package or target not in LAYERS:
                continue
            if package in FOUNDATION:
                wrong.append(f"{path.relative_to(CRM)} (foundation) imports {module}")
            elif LAYERS[target] >= LAYERS[package]:
                wrong.append(f"{path.relative_to(CRM)} imports {module} ({target} is not below {package})")
    assert wrong == []


def test_only_the_outer_layer_imports_views():
    wrong = []
    for path in sorted(CRM.rglob("*.py")):
        if path.name == "views.py" or path.relative_to(CRM).parts[0] in ("__init__.py", "web.py"):
            continue
        if path.name == "__init__.py" and path.parent != CRM:
            continue  # a domain package exposes its blueprint
        wrong += [f"{path.relative_to(CRM)} imports {m}" for m in _imports(path) if m.split(".")[-1] == "views"]
    assert wrong == []


def test_the_check_can_see_a_wrong_import(tmp_path, monkeypatch):
    """The checker itself: a services module importing upwards is reported."""
    fake = tmp_path / "crm" / "meetings"
    fake.mkdir(parents=True)
    (fake / "services.py").write_text("from crm.commitments.models import Commitment\n")
    monkeypatch.setattr(f"{__name__}.CRM", tmp_path / "crm")
    try:
        test_domains_import_only_downwards()
    except AssertionError as failure:
        assert "meetings/services.py imports crm.commitments.models" in str(failure)
    else:
        raise AssertionError("an upward import went unnoticed")
