"""The save/log frame every flavor shares: unknown keyword arguments are a TypeError (as in MLflow) and
touch neither the run nor the target directory; a failed save leaves no half-written directory."""

from __future__ import annotations

import numpy as np
import pytest

import fluvial as mlflow


def _models():
    """(flavor module, model) for each flavor whose library is installed."""
    from sklearn.linear_model import LinearRegression

    X = np.arange(20, dtype=float).reshape(10, 2)
    y = X.sum(axis=1)
    out = [("sklearn", LinearRegression().fit(X, y))]
    xgb = pytest.importorskip("xgboost")
    out.append(("xgboost", xgb.XGBRegressor(n_estimators=2, max_depth=2, n_jobs=1).fit(X, y)))
    lgb = pytest.importorskip("lightgbm")
    out.append(("lightgbm", lgb.LGBMRegressor(n_estimators=2, verbose=-1, n_jobs=1).fit(X, y)))
    torch = pytest.importorskip("torch")
    out.append(("pytorch", torch.nn.Linear(2, 1)))
    return out


@pytest.fixture(scope="module")
def models():
    return _models()


def test_misspelt_keyword_is_a_type_error_and_logs_nothing(models, tracking_uri, tmp_path):
    for flavor, model in models:
        module = getattr(mlflow, flavor)
        with pytest.raises(TypeError, match="input_exmple"):
            module.log_model(model, "model", input_exmple=np.zeros((1, 2)))
        assert mlflow.active_run() is None, flavor  # no run was started for a call that cannot succeed
        target = tmp_path / flavor
        with pytest.raises(TypeError, match="input_exmple"):
            module.save_model(model, str(target), input_exmple=np.zeros((1, 2)))
        assert not target.exists(), flavor
    assert mlflow.search_runs(search_all_experiments=True).empty


def test_pyfunc_rejects_unknown_keywords(tracking_uri, tmp_path):
    def fn(df):
        return df

    with pytest.raises(TypeError, match="input_exmple"):
        mlflow.pyfunc.log_model("model", python_model=fn, input_exmple=1)
    with pytest.raises(TypeError, match="foo"):
        mlflow.pyfunc.save_model(str(tmp_path / "m"), python_model=fn, foo=1)
    assert not (tmp_path / "m").exists()
    assert mlflow.active_run() is None


def test_failed_save_removes_the_directory(tmp_path):
    from sklearn.linear_model import LinearRegression

    target = tmp_path / "m"
    with pytest.raises(mlflow.exceptions.MlflowException, match="does not exist"):
        mlflow.sklearn.save_model(LinearRegression(), str(target), code_paths=[str(tmp_path / "missing.py")])
    assert not target.exists()


def test_code_paths_go_on_sys_path_when_loading(tmp_path):
    import sys

    from sklearn.linear_model import LinearRegression

    helper = tmp_path / "src" / "skeleton_helper_mod.py"
    helper.parent.mkdir()
    helper.write_text("VALUE = 3\n")
    model = LinearRegression().fit(np.eye(2), [0.0, 1.0])
    mlflow.sklearn.save_model(model, str(tmp_path / "m"), code_paths=[str(helper)])
    code_dir = str(tmp_path / "m" / "code")
    try:
        mlflow.sklearn.load_model(str(tmp_path / "m"))
        assert sys.path[0] == code_dir
        import skeleton_helper_mod  # type: ignore[import-not-found]

        assert skeleton_helper_mod.VALUE == 3
    finally:
        sys.path.remove(code_dir)
        sys.modules.pop("skeleton_helper_mod", None)
