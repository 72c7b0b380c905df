"""The autologging core with a toy integration: runs created and ended, logging into a user's run,
exclusive, extra tags, failure isolation (autologging's errors never reach the caller; the caller's
errors always do), nesting, disabling, import hooks, versions, and what ``fluvial.autolog()`` imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types

import pytest

import fluvial as mlflow
from fluvial.autologging import config, hooks, patching
from fluvial.autologging.config import autologging_integration
from tests.autologging._util import only_run

CALLS: list[str] = []


class Model:
    def fit(self, X, y=None):
        CALLS.append("fit")
        if X == "bad":
            raise ValueError("the user's error")
        self.fitted = X
        return self

    def helper(self):
        return self.fit("inner")


def _fit_patch(session, original, self, X, y=None):
    session.log_params({"X": X})
    if X == "fail-before":
        raise RuntimeError("autolog broke before the fit")
    result = original(self, X, y)
    if X == "fail-after":
        raise RuntimeError("autolog broke after the fit")
    session.log_metrics({"score": 1.5})
    session.attempt("fail one step", lambda: 1 / 0)
    session.log_metrics({"after_failed_step": 2.0})
    return result


@autologging_integration("toy")
def toy_autolog(disable=False, exclusive=False, silent=False, extra_tags=None):
    patching.safe_patch("toy", Model, "fit", _fit_patch)


@pytest.fixture(autouse=True)
def _fresh_calls():
    CALLS.clear()


def test_fit_without_active_run_creates_one_finished_run():
    toy_autolog()
    model = Model().fit("data")
    assert model.fitted == "data" and CALLS == ["fit"]
    assert mlflow.active_run() is None
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.data.params == {"X": "data"}
    assert run.data.metrics == {"score": 1.5, "after_failed_step": 2.0}
    assert run.data.tags["mlflow.autologging"] == "toy"
    assert mlflow.last_active_run().info.run_id == run.info.run_id


def test_a_failing_step_warns_and_the_rest_is_logged(autolog_warnings):
    toy_autolog()
    Model().fit("data")
    assert any("could not fail one step" in m and "ZeroDivisionError" in m for m in autolog_warnings())
    assert only_run().data.metrics["after_failed_step"] == 2.0


def test_inside_a_user_run_logs_into_it_and_leaves_it_open():
    toy_autolog()
    with mlflow.start_run() as run:
        Model().fit("data")
        assert mlflow.active_run().info.run_id == run.info.run_id
        stored = mlflow.get_run(run.info.run_id)
        assert stored.info.status == "RUNNING" and stored.data.params == {"X": "data"}
        assert "mlflow.autologging" not in stored.data.tags
    assert len(mlflow.search_runs(output_format="list")) == 1


def test_exclusive_does_not_log_into_user_runs():
    toy_autolog(exclusive=True)
    with mlflow.start_run() as run:
        assert Model().fit("data").fitted == "data"
    assert mlflow.get_run(run.info.run_id).data.params == {}
    Model().fit("again")  # outside a user run it still creates its own
    assert len(mlflow.search_runs(output_format="list")) == 2


def test_extra_tags_go_on_created_runs():
    toy_autolog(extra_tags={"team": "ml", "stage": "dev"})
    Model().fit("data")
    tags = only_run().data.tags
    assert tags["team"] == "ml" and tags["stage"] == "dev" and tags["mlflow.autologging"] == "toy"


@pytest.mark.parametrize("bad", [["team", "ml"], "team=ml", {1: "x"}])
def test_bad_extra_tags_raise_and_leave_the_previous_configuration(bad):
    from fluvial.exceptions import InvalidParameterValue

    toy_autolog(extra_tags={"team": "ml"})
    with pytest.raises(InvalidParameterValue, match="extra_tags"):
        toy_autolog(extra_tags=bad)
    assert config.is_enabled("toy") and config.get_config("toy", "extra_tags") == {"team": "ml"}
    Model().fit("data")  # still patched by the previous call
    assert only_run().data.tags["team"] == "ml"


def test_the_users_error_propagates_and_the_run_fails():
    toy_autolog()
    with pytest.raises(ValueError, match="the user's error"):
        Model().fit("bad")
    assert CALLS == ["fit"]
    run = only_run()
    assert run.info.status == "FAILED" and run.data.params == {"X": "bad"}
    assert mlflow.active_run() is None


@pytest.mark.parametrize("when", ["fail-before", "fail-after"])
def test_autologging_errors_never_reach_the_caller(when, autolog_warnings):
    toy_autolog()
    model = Model().fit(when)
    assert model.fitted == when
    assert CALLS == ["fit"]  # the original ran exactly once either way
    assert any(f"autolog broke {when.split('-')[1]} the fit" in m for m in autolog_warnings())
    assert only_run().info.status == "FINISHED"


def test_silent_suppresses_autologging_warnings(autolog_warnings):
    toy_autolog(silent=True)
    Model().fit("fail-after")
    assert autolog_warnings() == []


def test_an_unusable_tracking_store_only_warns(tmp_path, autolog_warnings):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    mlflow.set_tracking_uri(f"sqlite:///{blocker}/sub/mlflow.db")
    toy_autolog()
    model = Model().fit("data")
    assert model.fitted == "data" and CALLS == ["fit"]
    assert any("could not start a run" in m for m in autolog_warnings())


def test_nested_calls_run_the_original():
    toy_autolog()
    model = Model()
    patching.safe_patch("toy", Model, "helper", lambda session, original, self: original(self))
    model.helper()
    assert CALLS == ["fit"]
    run = only_run()
    assert run.data.params == {}  # the inner fit ran unpatched inside the helper's session


def test_disable_restores_the_original_function():
    original = Model.__dict__["fit"]
    toy_autolog()
    assert Model.__dict__["fit"] is not original
    assert patching.patched("toy") == ["Model.fit"]
    toy_autolog(disable=True)
    assert Model.__dict__["fit"] is original
    Model().fit("data")
    assert mlflow.search_runs(output_format="list") == []
    assert not config.is_enabled("toy")


def test_autologging_disabled_block():
    toy_autolog()
    with patching.autologging_disabled():
        Model().fit("data")
    assert mlflow.search_runs(output_format="list") == []


def test_inherited_methods_are_restored_by_deleting_the_patch():
    class Child(Model):
        pass

    patching.safe_patch("toy", Child, "fit", _fit_patch)
    assert "fit" in Child.__dict__
    patching.revert_patches("toy")
    assert "fit" not in Child.__dict__ and Child.fit is Model.fit


def test_patched_methods_keep_their_signature_and_name():
    import inspect

    toy_autolog()
    assert Model.fit.__name__ == "fit"
    assert list(inspect.signature(Model().fit).parameters) == ["X", "y"]


def test_descriptor_methods_keep_raising_attribute_error():
    class Maybe:
        def __init__(self, available):
            self.available = available

        @property
        def predict(self):
            if not self.available:
                raise AttributeError("predict")
            return lambda x: x * 2

    seen = []

    def patch(original, self, x):
        seen.append(x)
        return original(self, x)

    toy_autolog()
    patching.safe_patch("toy", Maybe, "predict", patch, session=False)
    assert not hasattr(Maybe(False), "predict")
    assert Maybe(True).predict(21) == 42 and seen == [21]


# ---- import hooks --------------------------------------------------------------------------------
def test_hooks_fire_after_import_and_can_be_cancelled(tmp_path, monkeypatch):
    (tmp_path / "fluvial_hook_probe.py").write_text("VALUE = 41\n")
    (tmp_path / "fluvial_hook_probe2.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    hooks.when_imported("fluvial_hook_probe", lambda m: seen.append(m.VALUE + 1), owner="toy")
    hooks.when_imported("fluvial_hook_probe2", lambda m: seen.append("never"), owner="toy2")
    hooks.cancel("toy2")
    assert seen == [] and hooks.pending("toy") == ["fluvial_hook_probe"]
    import fluvial_hook_probe  # noqa: F401
    import fluvial_hook_probe2  # noqa: F401

    assert seen == [42] and hooks.pending("toy") == []
    hooks.when_imported("fluvial_hook_probe", lambda m: seen.append("now"), owner="toy")
    assert seen == [42, "now"]  # already imported: right away
    for name in ("fluvial_hook_probe", "fluvial_hook_probe2"):
        sys.modules.pop(name, None)


def test_a_failing_hook_does_not_break_the_import(tmp_path, monkeypatch, autolog_warnings):
    (tmp_path / "fluvial_hook_probe3.py").write_text("VALUE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def boom(module: types.ModuleType) -> None:
        raise RuntimeError("hook failed")

    hooks.when_imported("fluvial_hook_probe3", boom, owner="toy")
    import fluvial_hook_probe3

    assert fluvial_hook_probe3.VALUE == 3
    assert any("hook failed" in m for m in autolog_warnings())
    sys.modules.pop("fluvial_hook_probe3", None)


def _run(code: str) -> dict:
    script = textwrap.dedent(code)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_universal_autolog_imports_no_library_and_patches_on_import():
    result = _run("""
        import json, sys
        import fluvial
        fluvial.autolog()
        heavy = sorted(m for m in ("sklearn", "xgboost", "lightgbm", "torch", "lightning", "numpy", "pandas")
                       if m in sys.modules)
        import sklearn.linear_model
        from fluvial.autologging import patching
        print(json.dumps({"heavy": heavy, "patched": len(patching.patched("sklearn")),
                          "lr": getattr(sklearn.linear_model.LogisticRegression.fit, "__fluvial_autolog__", None)}))
    """)
    assert result["heavy"] == []
    assert result["patched"] > 100 and result["lr"] == "sklearn"


def test_an_explicit_integration_configuration_wins_over_autolog():
    result = _run("""
        import json
        import fluvial, sklearn
        fluvial.sklearn.autolog(log_models=False, max_tuning_runs=2)
        fluvial.autolog(log_models=True)
        from fluvial.autologging import get_config
        print(json.dumps([get_config("sklearn", "log_models"), get_config("sklearn", "max_tuning_runs")]))
    """)
    assert result == [False, 2]


def test_universal_disable_turns_integrations_off():
    result = _run("""
        import json
        import fluvial, sklearn.linear_model
        fluvial.autolog()
        before = hasattr(sklearn.linear_model.LinearRegression.fit, "__fluvial_autolog__")
        fluvial.autolog(disable=True)
        after = hasattr(sklearn.linear_model.LinearRegression.fit, "__fluvial_autolog__")
        print(json.dumps([before, after]))
    """)
    assert result == [True, False]


# ---- versions ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("version", "ok"), [("1.3.0", True), ("1.9.1", True), ("1.9.1.post1", True),
                                             ("1.10.0", False), ("1.2.2", False), ("2.0", False), ("x", False)])
def test_version_supported(version, ok):
    assert config.version_supported(version, "1.3.0", "1.9") is ok


def test_unsupported_versions_warn_or_disable(autolog_warnings):
    calls = []

    @autologging_integration("toy2")
    def versioned(disable=False, disable_for_unsupported_versions=False, silent=False):
        if config.check_version("toy2", "toylib", "9.0", "1.0", "2.0"):
            calls.append("patched")

    versioned()
    assert calls == ["patched"] and any("toylib" in m and "9.0" in m for m in autolog_warnings())
    versioned(disable_for_unsupported_versions=True)
    assert calls == ["patched"]
