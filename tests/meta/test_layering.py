"""DESIGN.md §3 held by tests: the layering rule and the stdlib-only package import."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest

PKG = pathlib.Path(__file__).resolve().parents[2] / "fluvial"

# (module prefix, layer); the longest matching prefix wins.
LAYERS: list[tuple[str, int]] = [
    ("fluvial.exceptions", 0),
    ("fluvial.version", 0),
    ("fluvial._internal", 0),
    ("fluvial.entities", 1),
    ("fluvial.search", 1),
    ("fluvial.wire", 2),
    ("fluvial.store.tracking.base", 2),
    ("fluvial.store.registry.base", 2),
    ("fluvial.store.artifact.base", 2),
    ("fluvial.transport.base", 2),
    ("fluvial.store", 3),
    ("fluvial.transport", 3),
    ("fluvial.tracking", 4),
    ("fluvial.config", 4),
    ("fluvial.system_metrics", 4),
    ("fluvial.artifacts", 4),
    ("fluvial.models", 5),
    ("fluvial.environments", 5),
    ("fluvial.pyfunc", 5),
    ("fluvial.flavors", 5),
    ("fluvial.data", 5),
    ("fluvial.types", 5),
    ("fluvial.sklearn", 5),
    ("fluvial.autologging", 5),
    ("fluvial.xgboost", 5),
    ("fluvial.lightgbm", 5),
    ("fluvial.pytorch", 5),
    ("fluvial.metrics", 5),
    ("fluvial.statsmodels", 5),
    ("fluvial.catboost", 5),
    ("fluvial.onnx", 5),
    ("fluvial.keras", 5),
    ("fluvial.transformers", 5),
    ("fluvial.sentence_transformers", 5),
    ("fluvial.shap", 5),
    ("fluvial.spark", 5),
    ("fluvial.pyspark", 5),
    ("fluvial.prophet", 5),
    ("fluvial.server", 6),
    ("fluvial.scoring", 6),
    ("fluvial.projects", 6),
    ("fluvial.recipes", 6),
    ("fluvial.cli", 7),
    ("fluvial.__main__", 7),
]


def layer_of(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return None if best is None else best[1]


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):  # function-level imports count too
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names]
    return [m for m in found if m.startswith("fluvial")]


def _modules() -> list[pathlib.Path]:
    return sorted(p for p in PKG.rglob("*.py") if p.name != "__init__.py" or p.parent != PKG)


def test_every_module_has_a_layer():
    missing = [module_name(p) for p in _modules() if layer_of(module_name(p)) is None]
    assert missing == [], f"add these to LAYERS (and DESIGN.md): {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: module_name(p))
def test_imports_only_same_or_lower_layers(path):
    own = layer_of(module_name(path))
    assert own is not None
    violations = []
    for imported in imports_of(path):
        target = layer_of(imported)
        if target is not None and target > own:
            violations.append(f"{imported} (L{target})")
    assert violations == [], f"{module_name(path)} (L{own}) imports upward: {violations}"


def test_only_rest_modules_import_wire():
    offenders = []
    for path in _modules():
        name = module_name(path)
        if name.startswith(("fluvial.wire", "fluvial.server", "fluvial.transport")) or name.endswith(("rest", "http")):
            continue
        if any(m.startswith("fluvial.wire") for m in imports_of(path)):
            offenders.append(name)
    assert offenders == []


def _third_party_after(code: str) -> list[str]:
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"{code}\n"
        "names = set()\n"
        "for m in set(sys.modules) - before:\n"
        "    top = m.split('.')[0]\n"
        "    if top == 'fluvial' or top.startswith('_') or top in sys.stdlib_module_names:\n"
        "        continue\n"
        "    names.add(top)\n"
        "print(__import__('json').dumps(sorted(names)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_fluvial_loads_only_the_standard_library():
    assert _third_party_after("import fluvial") == []


def test_fluent_api_names_load_only_the_standard_library():
    code = "import fluvial; fluvial.start_run; fluvial.MlflowClient; fluvial.log_metric; import fluvial.exceptions, fluvial.entities"
    assert _third_party_after(code) == []


def test_cli_help_does_not_load_heavy_packages():
    heavy = set(_third_party_after("import fluvial.cli")) & {"sqlalchemy", "pandas", "numpy", "starlette"}
    assert heavy == set()
