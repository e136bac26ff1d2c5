"""The app layout (DESIGN.md, "Architecture"): imports run one way,
portal <- pilots <- metrics <- costs <- reviews, and every app has the same
skeleton. An import against that direction fails here, naming the file and
the line; so does a missing skeleton module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lower first: an app may import only apps that come before it.
LAYERS = ["portal", "pilots", "metrics", "costs", "reviews"]
SKELETON = [
    "models",
    "services",
    "selectors",
    "filters",
    "tasks",
    "admin",
    "api",
    "views",
    "forms",
    "urls",
]
# Plain typed calculators: no ORM, no Django at all.
PURE_MODULES = [
    "metrics/quantile.py",
    "metrics/promhttp.py",
    "costs/pricing.py",
    "costs/allocation.py",
    "costs/economics.py",
    "costs/focus.py",
    "costs/billing.py",
    "costs/exports.py",
    "reviews/stats.py",
    "pilots/sla.py",
    "pilots/spares_model.py",
]


def _imported_apps(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _violations(app: str) -> list[str]:
    allowed = set(LAYERS[: LAYERS.index(app) + 1])
    forbidden = set(LAYERS) - allowed
    problems = []
    for path in sorted((ROOT / app).rglob("*.py")):
        for line, imported in _imported_apps(path):
            if imported in forbidden:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return problems


@pytest.mark.parametrize("app", LAYERS)
def test_app_imports_only_apps_below_it(app: str) -> None:
    assert _violations(app) == []


def test_the_direction_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom costs.models import CostCenter\n")
    assert (2, "costs") in _imported_apps(bad)


@pytest.mark.parametrize("app", LAYERS[1:])
def test_every_app_has_the_same_skeleton(app: str) -> None:
    missing = [
        name
        for name in SKELETON
        if not (ROOT / app / f"{name}.py").exists() and not (ROOT / app / name).is_dir()
    ]
    assert missing == []


@pytest.mark.parametrize("module", PURE_MODULES)
def test_calculators_do_not_touch_django(module: str) -> None:
    imported = {name for _, name in _imported_apps(ROOT / module)}
    # Other calculators are fine (costs.pricing, metrics.quantile); Django,
    # models, selectors and services are not.
    assert imported.isdisjoint({"django", "rest_framework"})
    source = (ROOT / module).read_text(encoding="utf-8")
    for layer in (".models", ".selectors", ".services"):
        assert f"{layer} import" not in source
