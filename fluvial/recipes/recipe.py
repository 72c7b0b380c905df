"""``Recipe``: runs a recipe's steps in this process, caching each step by a content hash of its
inputs (its configuration, the user code it imports, the files it reads and its upstream steps'
outputs). A failed step keeps its previous good outputs and reports the file and line that failed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
import traceback
from typing import Any

from fluvial.exceptions import MlflowException
from fluvial.recipes import cards, steps_data, steps_model, steps_train
from fluvial.recipes.config import RecipeConfigError, find_root, read_config
from fluvial.recipes.context import StepContext

_logger = logging.getLogger(__name__)

TRAINING = ["ingest", "split", "transform", "train", "evaluate", "register"]
SCORING = ["ingest_scoring", "predict"]
RUNNERS = {"ingest": steps_data.ingest, "split": steps_data.split, "transform": steps_data.transform,
           "train": steps_train.train, "evaluate": steps_model.evaluate, "register": steps_model.register,
           "ingest_scoring": steps_data.ingest_scoring, "predict": steps_data.predict}
# user code files (under steps/) each step imports
CODE = {"ingest": ["ingest.py"], "split": ["split.py"], "transform": ["transform.py"],
        "train": ["train.py", "custom_metrics.py"], "evaluate": ["custom_metrics.py"], "register": [],
        "ingest_scoring": ["ingest.py"], "predict": []}
# recipe-wide keys that change what a step computes
GLOBAL_KEYS = {"split": ["target_col", "positive_class", "recipe"], "transform": ["target_col"],
               "train": ["target_col", "positive_class", "recipe", "custom_metrics", "primary_metric", "experiment"],
               "evaluate": ["target_col", "positive_class", "recipe", "custom_metrics", "primary_metric", "experiment"],
               "register": ["model_registry", "experiment", "recipe"], "predict": ["model_registry", "experiment"]}
ARTIFACTS = {"ingested_data": ("ingest", "dataset.parquet"), "training_data": ("split", "train.parquet"),
             "validation_data": ("split", "validation.parquet"), "test_data": ("split", "test.parquet"),
             "transformed_training_data": ("transform", "transformed_training_data.parquet"),
             "transformed_validation_data": ("transform", "transformed_validation_data.parquet"),
             "transformer": ("transform", "transformer.pkl"), "model": ("train", "model"), "run": ("train", "run_id"),
             "best_parameters": ("train", "best_parameters.yaml"),
             "predicted_training_data": ("train", "predicted_training_data.parquet"),
             "registered_model_version": ("register", "registered_model_version.json"),
             "ingested_scoring_data": ("ingest_scoring", "scoring-dataset.parquet"),
             "scored_data": ("predict", "scored.parquet")}
# upstream outputs a step reads, where not all of them: register reads only the validation status of the
# evaluate step, whose other outputs (e.g. SHAP plots) may differ from run to run without changing it
READS = {"register": {"evaluate": ["model_validation_status"]}}
STATE_FILE = "execution_state.json"
KEY_FILE = "cache_key"


def _dag(step: str) -> list[str]:
    for chain in (TRAINING, SCORING):
        if step in chain:
            return chain[: chain.index(step) + 1]
    raise MlflowException(f"Unknown step {step!r}: the steps are {TRAINING + SCORING}.")


def _hash_path(h: Any, path: str) -> None:
    if os.path.isdir(path):
        for base, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                if name in (STATE_FILE, "card.html", KEY_FILE):
                    continue
                full = os.path.join(base, name)
                h.update(os.path.relpath(full, path).encode())
                _hash_path(h, full)
    elif os.path.isfile(path):
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    else:
        h.update(b"<missing>")


class Recipe:
    """A recipe at ``recipe_root`` (default: found from the working directory) with ``profile``."""

    def __init__(self, profile: str | None = None, recipe_root: str | None = None) -> None:
        profile = profile or os.environ.get("MLFLOW_RECIPES_PROFILE")
        self.root = find_root(recipe_root)
        self.profile = profile or ""
        self.config = read_config(self.root, self.profile)
        self.name = os.path.basename(self.root)
        self.exec_dir = os.environ.get("MLFLOW_RECIPES_EXECUTION_DIRECTORY") or os.path.join(
            os.path.expanduser("~"), ".mlflow", "recipes", hashlib.sha256(self.root.encode()).hexdigest())
        steps_dir = os.path.join(self.root, "steps")
        os.makedirs(steps_dir, exist_ok=True)
        for files in CODE.values():
            for name in files:
                if not os.path.exists(os.path.join(steps_dir, name)):
                    open(os.path.join(steps_dir, name), "a").close()
        self.ctx = StepContext(self.root, self.config, self.profile, self.exec_dir)

    def __repr__(self) -> str:
        return f"Recipe(name={self.name!r}, template={self.config['recipe']!r}, profile={self.profile!r})"

    # ---- cache keys ------------------------------------------------------------------------------
    def _key(self, step: str, upstream: list[str]) -> str | None:
        h = hashlib.sha256()
        conf = self.ctx.step_conf(step)
        h.update(json.dumps({"step": step, "conf": conf, **{k: self.config.get(k) for k in GLOBAL_KEYS.get(step, [])}},
                            sort_keys=True, default=str).encode())
        for name in CODE[step]:
            _hash_path(h, os.path.join(self.root, "steps", name))
        if step in ("ingest", "ingest_scoring"):
            if conf.get("using") in ("spark_sql", "delta"):
                return None  # the source cannot be fingerprinted: always read it again
            try:
                for path in steps_data._locations(self.ctx, conf.get("location"), str(conf.get("using"))):
                    h.update(path.encode())
                    _hash_path(h, path)
            except Exception:
                return None
        for up in upstream:
            for rel in READS.get(step, {}).get(up, [""]):
                _hash_path(h, os.path.join(self.ctx.outputs(up), rel) if rel else self.ctx.outputs(up))
        h.update(sys.version.encode())
        for module in sorted(os.listdir(os.path.dirname(__file__))):  # fluvial's own recipe code
            if module.endswith(".py"):
                _hash_path(h, os.path.join(os.path.dirname(__file__), module))
        return h.hexdigest()

    def _state(self, step: str) -> dict[str, Any]:
        try:
            with open(os.path.join(self.ctx.outputs(step), STATE_FILE)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {"recipe_step_execution_status": "UNKNOWN"}

    def _write_state(self, step: str, status: str, trace: str | None) -> None:
        os.makedirs(self.ctx.outputs(step), exist_ok=True)
        with open(os.path.join(self.ctx.outputs(step), STATE_FILE), "w") as f:
            json.dump({"recipe_step_execution_status": status, "recipe_step_execution_last_updated_timestamp":
                       time.time(), "recipe_step_stack_trace": trace}, f)

    def _cached(self, step: str, key: str | None) -> bool:
        if key is None or self._state(step).get("recipe_step_execution_status") != "SUCCEEDED":
            return False
        try:
            with open(os.path.join(self.ctx.outputs(step), KEY_FILE)) as f:
                return f.read() == key
        except OSError:
            return False

    # ---- running ---------------------------------------------------------------------------------
    def _where(self, exc: BaseException) -> str:
        if isinstance(exc, RecipeConfigError):
            return ""
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if os.path.abspath(f.filename).startswith(self.root + os.sep)]
        if not frames:
            return ""
        last = frames[-1]
        return f"{os.path.relpath(last.filename, self.root)}:{last.lineno}: "

    def _run_step(self, step: str, key: str | None) -> None:
        final = self.ctx.outputs(step)
        staging = final + ".new"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        started = time.time()
        saved = self.ctx.exec_dir
        # the step writes into staging: point its own outputs there, the others stay in place
        orig_outputs = self.ctx.outputs
        self.ctx.outputs = lambda s: staging if s == step else orig_outputs(s)  # type: ignore[method-assign, assignment]
        try:
            summary = RUNNERS[step](self.ctx)
        except BaseException as exc:
            trace = traceback.format_exc()
            where = self._where(exc)
            self.ctx.outputs = orig_outputs  # type: ignore[method-assign]
            shutil.rmtree(staging, ignore_errors=True)
            self._write_state(step, "FAILED", trace)
            with open(os.path.join(final, "card.html"), "w") as f:
                f.write(cards.render(self.name, step, {}, "FAILED", f"{where}{type(exc).__name__}: {exc}"))
            err = MlflowException(f"Failed to run step '{step}' of recipe '{self.name}':\n{where}"
                                  f"{type(exc).__name__}: {exc}")
            err.step, err.location = step, where.rstrip(": ")  # type: ignore[attr-defined]
            raise err from exc
        finally:
            self.ctx.outputs = orig_outputs  # type: ignore[method-assign]
            self.ctx.exec_dir = saved
        with open(os.path.join(staging, "card.html"), "w") as f:
            f.write(cards.render(self.name, step, summary, "SUCCEEDED", duration=time.time() - started))
        if key is not None:
            with open(os.path.join(staging, KEY_FILE), "w") as f:
                f.write(key)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        self._write_state(step, "SUCCEEDED", None)
        self._log_cards(step)

    def _log_cards(self, step: str) -> None:
        """Once the training run exists, it holds every training step's card under ``<step>/card.html``."""
        if step not in TRAINING[3:]:
            return
        from fluvial.tracking.client import MlflowClient

        with open(self.ctx.output("train", "run_id")) as f:
            run_id = f.read()
        client = MlflowClient()
        for name in TRAINING[: TRAINING.index(step) + 1] if step == "train" else [step]:
            card = self.ctx.output(name, "card.html")
            if os.path.exists(card):
                client.log_artifact(run_id, card, name)

    def run(self, step: str | None = None) -> None:
        """Run the steps up to ``step`` (default: ``register``), skipping those whose inputs did not change."""
        chain = _dag(step or "register")
        skipped, done = [], []
        try:
            for i, name in enumerate(chain):
                key = self._key(name, chain[:i])
                if self._cached(name, key):
                    skipped.append(name)
                    continue
                self._run_step(name, key)
                done.append(name)
        finally:
            if skipped:
                _logger.info("%s: No changes. Skipping.", ", ".join(skipped))
            self.last_run = {"skipped": skipped, "executed": done}

    def clean(self, step: str | None = None) -> None:
        """Remove the cached outputs of ``step`` (default: every step)."""
        names = [step] if step else TRAINING + SCORING
        for name in names:
            _dag(name)
            shutil.rmtree(os.path.join(self.exec_dir, "steps", name), ignore_errors=True)

    def inspect(self, step: str | None = None) -> str:
        """The path of ``step``'s card (default: an overview card of every step's status)."""
        if step is not None:
            _dag(step)
            card = self.ctx.output(step, "card.html")
            if not os.path.exists(card):
                raise MlflowException(f"Step '{step}' has not run yet: run `fluvial recipes run --step {step}` first.")
            return card
        rows = [{"step": s, "status": self._state(s).get("recipe_step_execution_status", "UNKNOWN")}
                for s in TRAINING + SCORING]
        os.makedirs(self.exec_dir, exist_ok=True)
        path = os.path.join(self.exec_dir, "recipe.html")
        with open(path, "w") as f:
            f.write(cards.render(self.name, "overview", {"tables": {}, "validation": rows}, "SUCCEEDED"))
        return path

    def artifact_path(self, name: str) -> str | None:
        if name not in ARTIFACTS:
            raise MlflowException(f"The artifact with name '{name}' is not supported. Supported artifacts are: "
                                  f"{sorted(ARTIFACTS)}.")
        step, rel = ARTIFACTS[name]
        path = self.ctx.output(step, rel)
        # outputs with a cache key came from a successful run (a later failure keeps them)
        ok = os.path.exists(path) and os.path.exists(self.ctx.output(step, KEY_FILE))
        return path if ok else None

    def get_artifact(self, name: str) -> Any:
        """The named artifact (``model`` -> PyFuncModel, ``run`` -> Run, DataFrames...), or None when its
        step has not run."""
        path = self.artifact_path(name)
        if path is None:
            return None
        if path.endswith(".parquet"):
            import pandas as pd

            return pd.read_parquet(path)
        if name == "best_parameters":
            with open(path) as f:
                return f.read()
        if name == "transformer":
            import cloudpickle

            with open(path, "rb") as f:
                return cloudpickle.load(f)
        self.ctx.apply_tracking()
        if name == "model":
            from fluvial.pyfunc import load_model

            return load_model(path)
        from fluvial.tracking.client import MlflowClient

        if name == "run":
            with open(path) as f:
                return MlflowClient().get_run(f.read())
        with open(path) as f:
            info = json.load(f)
        return MlflowClient().get_model_version(info["registered_model_name"], str(info["registered_model_version"]))
