"""``fluvial models predict`` as users run it (a subprocess): JSON and CSV from files and stdin, to
files and stdout, with the server's answers; errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import fluvial as mlflow
from fluvial.scoring.output import encode_predictions
from tests.scoring._models import FEATURES, EchoModel, FailingModel, save_custom, save_sklearn
from tests.server._serve import _env


def fluvial(*args: str, stdin: bytes | None = None, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fluvial", *args], input=stdin, capture_output=True, cwd=cwd,
                          env=_env(env), timeout=timeout)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[Path, pd.DataFrame, bytes]:
    path, sample = save_sklearn(tmp_path_factory.mktemp("predict") / "model")
    want = encode_predictions(mlflow.pyfunc.load_model(str(path)).predict(sample))
    return path, sample, want


def test_json_file_to_file(model, tmp_path):
    path, sample, want = model
    (tmp_path / "in.json").write_text(json.dumps({"dataframe_split": sample.to_dict(orient="split")}))
    out = fluvial("models", "predict", "-m", str(path), "-i", "in.json", "-o", "out.json", "--env-manager", "local",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out.json").read_bytes() == want  # no trailing newline, as MLflow
    assert out.stdout == b""


def test_csv_file_to_stdout(model, tmp_path):
    path, sample, want = model
    sample.to_csv(tmp_path / "in.csv", index=False)
    out = fluvial("models", "predict", "-m", str(path), "-i", "in.csv", "-t", "csv", "--env-manager", "local",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == want


@pytest.mark.parametrize("content_type", ["json", "csv"])
def test_stdin_to_stdout(model, tmp_path, content_type):
    path, sample, want = model
    body = (json.dumps({"dataframe_records": sample.to_dict(orient="records")}).encode() if content_type == "json"
            else sample.to_csv(index=False).encode())
    out = fluvial("models", "predict", "-m", str(path), "-t", content_type, "--env-manager", "local", stdin=body,
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(want)


def test_every_json_format_and_params(tmp_path):
    path = save_custom(tmp_path / "model", EchoModel(), params={"scale": 1.0, "label": "none"})
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    model = mlflow.pyfunc.load_model(str(path))
    for payload in ({"dataframe_split": frame.to_dict(orient="split"), "params": {"scale": 3.0}},
                    {"dataframe_records": frame.to_dict(orient="records")},
                    {"inputs": frame.to_dict(orient="list"), "params": {"label": "p"}},
                    {"instances": frame.to_dict(orient="records")}):
        out = fluvial("models", "predict", "-m", str(path), "--env-manager", "local",
                      stdin=json.dumps(payload).encode(), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        want = model.predict(frame, params=payload.get("params"))
        assert json.loads(out.stdout) == json.loads(encode_predictions(want))


def test_env_pairs_reach_the_model(tmp_path):
    from tests.scoring._models import EnvModel

    path = save_custom(tmp_path / "model", EnvModel())
    payload = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}).encode()
    out = fluvial("models", "predict", "-m", str(path), "--env-manager", "local", "--env", "FLUVIAL_TEST_VALUE=42",
                  stdin=payload, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"predictions": ["42"]}


def _one_error_line(out: subprocess.CompletedProcess) -> str:
    assert out.returncode != 0
    assert b"Traceback" not in out.stderr, out.stderr
    lines = [ln for ln in out.stderr.decode().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    assert out.stdout == b""
    return lines[0]


@pytest.mark.parametrize(("body", "content_type", "needle"), [
    (b'{"dataframe_split": ', "json", "valid JSON"),
    (b'{"columns": ["a"], "data": [[1]]}', "json", "exactly one of the input fields"),
    (json.dumps({"dataframe_split": {"columns": FEATURES[:2], "data": [[1.0, 2.0]]}}).encode(), "json",
     "missing inputs"),
    (b"x,y\n1,2\n", "xml", "Unknown content type"),
])
def test_bad_input_is_one_error_line(model, tmp_path, body, content_type, needle):
    path, _, _ = model
    out = fluvial("models", "predict", "-m", str(path), "-t", content_type, "--env-manager", "local", stdin=body,
                  cwd=tmp_path)
    assert needle in _one_error_line(out)


def test_missing_input_file_and_model(model, tmp_path):
    path, _, _ = model
    assert "No such input file" in _one_error_line(
        fluvial("models", "predict", "-m", str(path), "-i", "nope.json", "--env-manager", "local", cwd=tmp_path))
    assert "does not exist" in _one_error_line(
        fluvial("models", "predict", "-m", str(tmp_path / "nope"), "--env-manager", "local", stdin=b"{}",
                cwd=tmp_path))


def test_a_failing_model_is_one_error_line(tmp_path):
    path = save_custom(tmp_path / "model", FailingModel())
    payload = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}).encode()
    line = _one_error_line(fluvial("models", "predict", "-m", str(path), "--env-manager", "local", stdin=payload,
                                   cwd=tmp_path))
    assert "the model broke on purpose" in line


def test_overrides_need_a_built_environment(model, tmp_path):
    path, _, _ = model
    line = _one_error_line(fluvial("models", "predict", "-m", str(path), "--env-manager", "local", "-r",
                                   "scikit-learn==1.5.0", stdin=b"{}", cwd=tmp_path))
    assert "--pip-requirements-override" in line and "virtualenv" in line
