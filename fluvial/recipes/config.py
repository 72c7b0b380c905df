"""Reading a recipe: find its root, render ``profiles/<p>.yaml`` and ``recipe.yaml`` with Jinja2 in a
sandbox (no attribute access to Python internals, no code execution), and merge them as MLflow 2.x
does: a top-level key in both files is an error."""

from __future__ import annotations

import json
import os
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MissingDependency, MlflowException

TEMPLATES = ("regression/v1", "classification/v1")


class RecipeConfigError(InvalidParameterValue):
    """A recipe.yaml / profile problem; ``path`` and ``line`` say where when known."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        super().__init__(where + message)
        self.path, self.line = path, line


def find_root(start: str | None = None) -> str:
    """The nearest directory from ``start`` (default the working directory) upwards holding recipe.yaml."""
    current = os.path.abspath(start or os.getcwd())
    for _ in range(256):
        if os.path.isfile(os.path.join(current, "recipe.yaml")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    raise MlflowException("Failed to find recipe.yaml! Run from a recipe's directory or one of its subdirectories.")


def _env(root: str) -> Any:
    try:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise MissingDependency('Recipes need Jinja2, pandas and pyarrow: pip install "fluvial[recipes]"') from None

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, line_comment_prefix="#", autoescape=False)

    def from_json(path: str) -> Any:
        full = os.path.realpath(os.path.join(root, path))
        if not full.startswith(os.path.realpath(root) + os.sep):
            raise RecipeConfigError(f"from_json may only read files inside the recipe directory, not {path!r}")
        with open(full) as f:
            return json.load(f)

    env.filters["from_json"] = from_json
    return env


def _render(root: str, rel: str, context: dict[str, Any]) -> str:
    from jinja2 import TemplateSyntaxError, UndefinedError
    from jinja2.exceptions import SecurityError

    path = os.path.join(root, rel)
    with open(path) as f:
        text = f.read()
    try:
        return _env(root).from_string(text).render(**context)
    except TemplateSyntaxError as exc:
        raise RecipeConfigError(f"template syntax error: {exc.message}", path=rel, line=exc.lineno) from None
    except UndefinedError as exc:
        raise RecipeConfigError(f"undefined variable: {exc.message}", path=rel, line=_lineno(exc)) from None
    except RecipeConfigError:
        raise
    except Exception as exc:
        chain: list[BaseException] = []
        cur: BaseException | None = exc
        while cur is not None and len(chain) < 10:
            chain.append(cur)
            cur = cur.__context__
        unsafe = next((c for c in chain if isinstance(c, SecurityError)), None)
        what = f"unsafe template expression refused: {unsafe}" if unsafe else f"rendering failed: {exc!r}"
        raise RecipeConfigError(what, path=rel, line=_lineno(exc)) from None


def _lineno(exc: BaseException) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _load_yaml(text: str, rel: str) -> dict[str, Any]:
    import yaml

    class _NoDuplicates(yaml.SafeLoader):
        pass

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise RecipeConfigError(f"duplicate key {key!r}", path=rel, line=key_node.start_mark.line + 1)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    _NoDuplicates.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        data = yaml.load(text, Loader=_NoDuplicates)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise RecipeConfigError(f"invalid YAML: {exc.problem}", path=rel, line=mark.line + 1 if mark else None) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeConfigError("the file must hold a mapping at its top level", path=rel)
    return data


def read_config(root: str, profile: str) -> dict[str, Any]:
    """The effective recipe configuration for ``profile``."""
    if not profile or not isinstance(profile, str):
        raise MlflowException("A profile is required: pass profile=... or --profile, or set MLFLOW_RECIPES_PROFILE.")
    prof_rel = os.path.join("profiles", f"{profile}.yaml")
    if not os.path.isfile(os.path.join(root, prof_rel)):
        raise RecipeConfigError(f"Did not find the YAML configuration for the specified profile '{profile}' "
                                f"(expected {prof_rel} in {root}).")
    profile_dict = _load_yaml(_render(root, prof_rel, {}), prof_rel)
    recipe_dict = _load_yaml(_render(root, "recipe.yaml", profile_dict), "recipe.yaml")
    both = sorted(set(recipe_dict) & set(profile_dict))
    if both:
        raise RecipeConfigError(f"Failed to read recipe configuration: the top-level key(s) {both} are in both "
                                f"recipe.yaml and {prof_rel}; keep each in one of them.")
    config = {**recipe_dict, **profile_dict}
    template = config.get("recipe")
    if template is None:
        raise RecipeConfigError("The `recipe` property needs to be defined in the `recipe.yaml` file. For example: "
                                "`recipe: regression/v1`", path="recipe.yaml")
    if str(template).replace("@", "/") not in TEMPLATES:
        raise RecipeConfigError(f"Unknown recipe template {template!r}: use one of {list(TEMPLATES)}.",
                                path="recipe.yaml")
    config["recipe"] = str(template).replace("@", "/")
    if not config.get("target_col"):
        raise RecipeConfigError("Missing target_col config in recipe config.", path="recipe.yaml")
    if config["recipe"] == "classification/v1" and config.get("positive_class") is None:
        raise RecipeConfigError("`positive_class` must be specified for classification/v1 recipes.",
                                path="recipe.yaml")
    steps = config.get("steps") or {}
    if not isinstance(steps, dict):
        raise RecipeConfigError("`steps` must be a mapping of step name to step configuration.",
                                path="recipe.yaml")
    config["steps"] = {k: (v or {}) for k, v in steps.items()}
    return config
