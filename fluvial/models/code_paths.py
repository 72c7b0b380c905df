"""``infer_code_paths=True``: save with a model the local modules it imports when it loads.

The saved model is loaded in a subprocess (the one requirement inference uses) while the modules it
imports are recorded. A module counts as local when its file lies under the current working directory
and outside any ``site-packages``/``dist-packages`` directory, the Python installation, fluvial itself
and the model directory. Each local module is copied to ``code/<its module path>`` (``pkg/mod.py``,
with the ``__init__.py`` of its packages), MLflow's layout, so putting ``code/`` on ``sys.path``
imports it under the same name. ``__pycache__`` is never copied.
"""

from __future__ import annotations

import os
import shutil
import sys

from fluvial.models.model import MLMODEL_FILE_NAME, Model

CODE_DIR = "code"
_FOREIGN_PARTS = {"site-packages", "dist-packages", "__pycache__"}


def _roots_to_skip(model_dir: str) -> list[str]:
    import fluvial

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, model_dir,
             os.path.dirname(os.path.abspath(fluvial.__file__))}
    return [os.path.realpath(r) + os.sep for r in roots if r]


def local_module_files(files: dict[str, str], model_dir: str, root: str | None = None) -> dict[str, str]:
    """``{relative destination: source file}`` for the modules in ``files`` ({module: file}) that are
    local to ``root`` (default: the working directory)."""
    root = os.path.realpath(root or os.getcwd()) + os.sep
    skip = _roots_to_skip(os.path.realpath(model_dir))
    out: dict[str, str] = {}
    for module, file in sorted(files.items()):
        real = os.path.realpath(file)
        if not real.endswith(".py") or not real.startswith(root):
            continue
        if any(real.startswith(s) for s in skip) or _FOREIGN_PARTS & set(real.split(os.sep)):
            continue
        if module.startswith("code_model_") or module == "__main__":
            continue  # the model file itself (already in the model directory) or the running script
        parts = module.split(".")
        is_package = os.path.basename(real) == "__init__.py"
        relative = os.path.join(*parts, "__init__.py") if is_package else os.path.join(*parts[:-1], parts[-1] + ".py")
        # the file must sit where its module name says (else it was loaded some other way: skip it)
        if not real.endswith(os.sep + relative):
            continue
        out[relative] = real
        base = real[: -len(relative)]
        for depth in range(1, len(parts)):  # the __init__.py of each enclosing package
            init = os.path.join(*parts[:depth], "__init__.py")
            if os.path.isfile(os.path.join(base, init)):
                out.setdefault(init, os.path.join(base, init))
    return out


def infer_and_copy_code_paths(model_dir: str, model: Model) -> str | None:
    """Copy the local modules the model at ``model_dir`` imports when it loads into ``code/``; the
    code directory's name, or None when it imports none."""
    from fluvial.models.infer_requirements import run_capture

    model.save(os.path.join(model_dir, MLMODEL_FILE_NAME))
    files = run_capture(model_dir).get("files") or {}
    found = local_module_files(files, model_dir)
    if not found:
        return None
    for relative, source in found.items():
        dest = os.path.join(model_dir, CODE_DIR, relative)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(source, dest)
    return CODE_DIR
