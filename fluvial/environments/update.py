"""``fluvial models update-pip-requirements``: add or remove requirements of a saved model in place,
in ``requirements.txt`` and in the pip section of ``conda.yaml`` alike (MLflow's file formats:
``requirements.txt`` without a trailing newline)."""

from __future__ import annotations

import logging
import os

from fluvial.exceptions import InvalidParameterValue, ResourceDoesNotExist

REQUIREMENTS_FILE = "requirements.txt"
CONDA_FILE = "conda.yaml"
_logger = logging.getLogger(__name__)


def _key(requirement: str) -> str:
    from fluvial.models.requirements import parse_requirement

    parsed = parse_requirement(requirement)
    return parsed.key if parsed is not None else requirement.strip()


def _read_requirements(model_dir: str) -> list[str]:
    path = os.path.join(model_dir, REQUIREMENTS_FILE)
    if os.path.isfile(path):
        from fluvial.models.requirements import clean_requirement_lines

        with open(path, encoding="utf-8") as fh:
            return list(clean_requirement_lines(fh.read().splitlines()))
    conda = _read_conda(model_dir)
    if conda is None:
        return []
    for dep in conda.get("dependencies") or []:
        if isinstance(dep, dict) and "pip" in dep:
            return [str(d) for d in dep["pip"] or []]
    return []


def _read_conda(model_dir: str) -> dict | None:
    import yaml

    path = os.path.join(model_dir, CONDA_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return data if isinstance(data, dict) else None


def updated_requirements(current: list[str], operation: str, requirements: list[str]) -> list[str]:
    """``current`` with ``requirements`` added (replacing the same package's line in place) or removed
    (by package name)."""
    new = list(current)
    if operation == "add":
        for requirement in requirements:
            key = _key(requirement)
            positions = [i for i, line in enumerate(new) if _key(line) == key]
            if positions:
                new[positions[0]] = requirement
                for i in reversed(positions[1:]):
                    del new[i]
            else:
                new.append(requirement)
    elif operation == "remove":
        for requirement in requirements:
            key = _key(requirement)
            if not any(_key(line) == key for line in new):
                _logger.warning('"%s" not found in requirements, ignoring', requirement)
            new = [line for line in new if _key(line) != key]
    else:
        raise InvalidParameterValue(f"Unknown operation {operation!r}: use add or remove.")
    return new


def update_model_requirements(model_dir: str, operation: str, requirements: list[str]) -> tuple[list[str], list[str]]:
    """Apply the change to the model in the local directory ``model_dir``; (old, new) requirements."""
    import yaml

    if not os.path.isfile(os.path.join(model_dir, "MLmodel")):
        raise ResourceDoesNotExist(f"No MLmodel file in {model_dir}: not a model directory.")
    bad = [r for r in requirements if not r.strip()]
    if bad or not requirements:
        raise InvalidParameterValue("Give at least one requirement string, e.g. 'scikit-learn==1.5.0'.")
    old = _read_requirements(model_dir)
    new = updated_requirements(old, operation, [r.strip() for r in requirements])
    with open(os.path.join(model_dir, REQUIREMENTS_FILE), "w", encoding="utf-8") as fh:
        fh.write("\n".join(new))
    conda = _read_conda(model_dir)
    if conda is not None:
        deps, replaced = [], False
        for dep in conda.get("dependencies") or []:
            if isinstance(dep, dict) and "pip" in dep:
                deps.append({"pip": new})
                replaced = True
            else:
                deps.append(dep)
        if not replaced:
            deps.append({"pip": new})
        conda["dependencies"] = deps
        with open(os.path.join(model_dir, CONDA_FILE), "w", encoding="utf-8") as fh:
            yaml.safe_dump(conda, fh, default_flow_style=False)
    return old, new


__all__ = ["update_model_requirements", "updated_requirements"]
