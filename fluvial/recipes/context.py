"""What every step gets: the recipe root, its configuration, the execution directory, user code from
``steps/*.py`` (imported fresh), and the recipe's tracking settings applied to fluvial."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import Any

from fluvial.exceptions import InvalidParameterValue


@dataclass
class StepContext:
    root: str
    config: dict[str, Any]
    profile: str
    exec_dir: str

    @property
    def name(self) -> str:
        return os.path.basename(self.root)

    @property
    def template(self) -> str:
        return self.config["recipe"]

    @property
    def target(self) -> str:
        return self.config["target_col"]

    @property
    def is_classification(self) -> bool:
        return self.template.startswith("classification")

    def step_conf(self, step: str) -> dict[str, Any]:
        return dict(self.config["steps"].get(step) or {})

    def outputs(self, step: str) -> str:
        return os.path.join(self.exec_dir, "steps", step, "outputs")

    def output(self, step: str, rel: str) -> str:
        return os.path.join(self.outputs(step), rel)

    def user_function(self, module: str, name: str, key: str) -> Any:
        """``steps/<module>.py``'s function ``name`` (configured as ``key``), imported fresh."""
        for loaded in [m for m in sys.modules if m == "steps" or m.startswith("steps.")]:
            del sys.modules[loaded]
        while self.root in sys.path:
            sys.path.remove(self.root)
        sys.path.insert(0, self.root)  # this recipe's steps/ package first
        try:
            mod = importlib.import_module(f"steps.{module}")
        except ModuleNotFoundError as exc:
            raise InvalidParameterValue(f"`{key}: {name}` needs steps/{module}.py in the recipe ({exc})") from None
        fn = getattr(mod, name, None)
        if not callable(fn):
            raise InvalidParameterValue(f"`{key}`: steps/{module}.py has no function named {name!r}")
        return fn

    # ---- tracking -----------------------------------------------------------------------------
    def tracking(self) -> dict[str, Any]:
        exp = dict(self.config.get("experiment") or {})
        meta = os.path.join(self.root, "metadata", "mlflow")
        os.makedirs(meta, exist_ok=True)
        return {
            "tracking_uri": exp.get("tracking_uri", f"sqlite:///{os.path.join(meta, 'mlruns.db')}"),
            "artifact_location": exp.get("artifact_location", "file://" + os.path.join(meta, "mlartifacts")),
            "name": exp.get("name"), "id": exp.get("id"), "run_name_prefix": exp.get("run_name_prefix"),
        }

    def apply_tracking(self) -> None:
        import fluvial

        t = self.tracking()
        fluvial.set_tracking_uri(t["tracking_uri"])
        registry = (self.config.get("model_registry") or {}).get("registry_uri")
        fluvial.set_registry_uri(registry or t["tracking_uri"])
        if t["id"] is not None and t["name"] is None:
            fluvial.set_experiment(experiment_id=str(t["id"]))
            return
        name = t["name"] or self.name
        if fluvial.get_experiment_by_name(name) is None:
            fluvial.create_experiment(name, artifact_location=t["artifact_location"])
        fluvial.set_experiment(name)

    def run_tags(self, step: str) -> dict[str, str]:
        return {"mlflow.source.type": "RECIPE", "mlflow.pipeline.template.name": self.template,
                "mlflow.pipeline.profile.name": self.profile, "mlflow.pipeline.step.name": step}
