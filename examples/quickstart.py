"""fluvial quickstart: train a small scikit-learn model, track it, and find it again.

Runs with no server and no configuration: everything goes to ./mlflow.db and ./mlruns.
Run it with `make run` (or `.venv/bin/python examples/quickstart.py`).
"""

from __future__ import annotations

import os

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

import fluvial as mlflow
from fluvial.models import infer_signature


def main() -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

    mlflow.set_experiment("quickstart")
    for n_estimators, max_depth in [(10, 2), (50, 4), (100, None)]:
        with mlflow.start_run(run_name=f"rf-{n_estimators}") as run:
            mlflow.log_params({"n_estimators": n_estimators, "max_depth": max_depth, "model": "rf"})
            model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
            model.fit(X_train, y_train)
            for step, size in enumerate((0.25, 0.5, 1.0)):  # a metric with steps: accuracy on growing slices
                n = max(1, int(len(X_test) * size))
                mlflow.log_metric("partial_acc", accuracy_score(y_test[:n], model.predict(X_test[:n])), step=step)
            predictions = model.predict(X_test)
            mlflow.log_metrics(
                {"acc": accuracy_score(y_test, predictions), "f1": f1_score(y_test, predictions, average="macro")}
            )
            mlflow.set_tag("dataset", "iris")
            mlflow.sklearn.log_model(model, "model", signature=infer_signature(X_train, predictions),
                                     input_example=X_train[:3])
            mlflow.log_dict({"features": list(X.columns)}, "features.json")
            print(f"run {run.info.run_name} ({run.info.run_id}) logged")

    best = mlflow.search_runs(filter_string="params.model = 'rf' AND metrics.acc > 0.8", order_by=["metrics.acc DESC"])
    print()
    print(best[["tags.mlflow.runName", "params.n_estimators", "metrics.acc", "metrics.f1"]].to_string(index=False))
    print()
    print(f"tracking data: {os.path.abspath('mlflow.db')} (tracking URI {mlflow.get_tracking_uri()})")
    print(f"artifacts:     {best.iloc[0]['artifact_uri']}")
    best_model = mlflow.pyfunc.load_model(f"runs:/{best.iloc[0]['run_id']}/model")
    print(f"best model loaded back through pyfunc; predictions for 3 test rows: {best_model.predict(X_test[:3]).tolist()}")
    print("next: `.venv/bin/fluvial runs list --experiment-id "
          f"{mlflow.get_experiment_by_name('quickstart').experiment_id}`")


if __name__ == "__main__":
    main()
