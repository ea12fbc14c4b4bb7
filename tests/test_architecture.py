"""The app graph in the README holds: each app imports only apps below it, so there is no cycle.

Read from the source with ast (imports inside functions count too), not from sys.modules, so a
lazy import cannot hide an upward edge.
"""

import ast
from pathlib import Path

import pytest

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"

# Lowest first. Apps on the same level must not import each other.
LAYERS = [
    {"core", "smart_sync"},
    {"market", "accounts"},
    {"ledger"},
    {"positions"},
    {"traders"},
    {"copies"},
    {"fees"},
    {"stats"},
    {"portal"},
]
LEVEL = {app: level for level, apps in enumerate(LAYERS) for app in apps}


def _imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "apps" and len(parts) > 1:
                found.add(parts[1])
    return found


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for app_dir in sorted(p for p in APPS_DIR.iterdir() if (p / "__init__.py").exists()):
        imported = set()
        for source in app_dir.rglob("*.py"):
            imported |= _imported_apps(source)
        edges[app_dir.name] = imported - {app_dir.name}
    return edges


def test_every_app_has_a_level():
    assert set(_edges()) == set(LEVEL), "add the new app to LAYERS (and the README's diagram)"


@pytest.mark.parametrize("app", sorted(LEVEL))
def test_app_imports_only_apps_below_it(app):
    upward = sorted(other for other in _edges()[app] if LEVEL[other] >= LEVEL[app])
    assert upward == [], f"apps.{app} imports {upward}, which are not below it"


def test_smart_sync_and_core_import_no_app():
    edges = _edges()
    assert edges["smart_sync"] == set()
    assert edges["core"] == set()


def test_the_checker_sees_a_lazy_upward_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "def f():\n    from apps.portal.views import x\n    import apps.stats.formulas\n"
    )
    assert _imported_apps(source) == {"portal", "stats"}
