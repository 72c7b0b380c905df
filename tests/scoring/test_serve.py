"""``fluvial models serve`` as a real process on 127.0.0.1: every input format answers exactly what the
model predicts in process; bad input is a 4xx JSON error, never a 5xx; model failures are 500,
slow predictions 504; several workers; adaptive batching changes nothing but speed."""

from __future__ import annotations

import concurrent.futures
import json
import os
import string
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fluvial as mlflow
from fluvial.scoring.output import encode_predictions
from tests.scoring._models import (
    FEATURES,
    BatchSizeModel,
    EchoModel,
    FailingModel,
    PidModel,
    SlowModel,
    save_custom,
    save_sklearn,
)
from tests.scoring._serving import invoke, models_serve, request
from tests.server._serve import raw_http


def expected(model_path: Path, data, params=None):
    """What the model predicts in this process, as the server would encode it."""
    model = mlflow.pyfunc.load_model(str(model_path))
    output = model.predict(data, params=params) if params else model.predict(data)
    return json.loads(encode_predictions(output))


@pytest.fixture(scope="module")
def sk(tmp_path_factory):
    """(model path, sample frame, server) for a LogisticRegression with a 4-double-column signature."""
    workdir = tmp_path_factory.mktemp("sk")
    path, sample = save_sklearn(workdir / "model", proba=True)
    with models_serve(path, workdir / "server") as server:
        yield path, sample, server


@pytest.fixture(scope="module")
def sk_batching(sk, tmp_path_factory):
    """The same model served with --batching."""
    path, sample, _ = sk
    with models_serve(path, tmp_path_factory.mktemp("sk-batching"), "--batching") as server:
        yield path, sample, server


@pytest.fixture(scope="module")
def echo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("echo")
    path = save_custom(workdir / "model", EchoModel(), params={"scale": 1.0, "label": "none"})
    with models_serve(path, workdir / "server") as server:
        yield path, server


# ---- endpoints -------------------------------------------------------------------------------------


def test_ping_health_version(sk):
    _, _, server = sk
    for path in ("/ping", "/health"):
        answer = request(server.port, "GET", path, content_type=None)
        assert answer.status == 200 and answer.body == b"\n"
    version = request(server.port, "GET", "/version", content_type=None)
    assert version.status == 200 and version.body == b"2.22.5"
    assert request(server.port, "GET", "/invocations", content_type=None).status == 405
    missing = request(server.port, "GET", "/nope", content_type=None)
    assert missing.status == 404 and missing.json() == {"detail": "Not Found"}


# ---- every input format -----------------------------------------------------------------------------


def _payloads(sample: pd.DataFrame) -> dict[str, tuple[str, str]]:
    split = sample.to_dict(orient="split")
    records = sample.to_dict(orient="records")
    return {
        "dataframe_split": ("application/json", json.dumps({"dataframe_split": {"columns": split["columns"],
                                                                                "data": split["data"]}})),
        "dataframe_split+index": ("application/json", json.dumps({"dataframe_split": split})),
        "dataframe_records": ("application/json", json.dumps({"dataframe_records": records})),
        "instances": ("application/json", json.dumps({"instances": records})),
        "inputs": ("application/json", json.dumps({"inputs": sample.to_dict(orient="list")})),
        "csv": ("text/csv", sample.to_csv(index=False)),
        "csv+charset": ("text/csv; charset=UTF-8", sample.to_csv(index=False)),
        "json+charset": ("application/json; charset=utf-8", json.dumps({"dataframe_records": records})),
    }


@pytest.mark.parametrize("fmt", ["dataframe_split", "dataframe_split+index", "dataframe_records", "instances",
                                 "inputs", "csv", "csv+charset", "json+charset"])
def test_every_format_answers_what_predict_gives(sk, fmt):
    path, sample, server = sk
    content_type, body = _payloads(sample)[fmt]
    answer = invoke(server.port, body, content_type)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == expected(path, sample)
    assert len(answer.json()["predictions"]) == len(sample)


def test_integers_in_double_columns_are_cast_as_mlflow_does(sk):
    path, _, server = sk
    rows = [[5, 3, 1, 0], [7, 3, 5, 2]]
    answer = invoke(server.port, {"dataframe_split": {"columns": FEATURES, "data": rows}})
    assert answer.status == 200, answer.body
    assert answer.json() == expected(path, pd.DataFrame(rows, columns=FEATURES).astype(float))


def test_columns_in_another_order(sk):
    path, sample, server = sk
    reordered = sample[list(reversed(FEATURES))]
    answer = invoke(server.port, {"dataframe_split": {"columns": list(reordered.columns),
                                                      "data": reordered.values.tolist()}})
    assert answer.status == 200, answer.body
    assert answer.json() == expected(path, sample)


def test_params_and_dataframe_output(echo):
    path, server = echo
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.25, 0.0]})
    params = {"scale": 2.5, "label": "x"}
    for payload in ({"dataframe_split": {"columns": ["a", "b"], "data": frame.values.tolist()}, "params": params},
                    {"dataframe_records": frame.to_dict(orient="records"), "params": params},
                    {"inputs": frame.to_dict(orient="list"), "params": params}):
        answer = invoke(server.port, payload)
        assert answer.status == 200, answer.body
        assert answer.json() == expected(path, frame, params)
        assert answer.json()["predictions"][0] == {"total": 1.5, "scale": 2.5, "label": "x"}
    plain = invoke(server.port, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}})
    assert plain.json() == {"predictions": [{"total": 3.0, "scale": 1.0, "label": "none"}]}


def test_params_of_the_wrong_type_are_a_400(echo):
    _, server = echo
    answer = invoke(server.port, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]},
                                  "params": {"scale": "not a number"}})
    assert answer.status == 400, answer.body
    answer = invoke(server.port, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}, "params": [1]})
    assert answer.status == 400


# ---- bad input: 4xx JSON, never 5xx -----------------------------------------------------------------


BAD_JSON_PAYLOADS = {
    "invalid json": (b'{"dataframe_split": ', 400, "BAD_REQUEST"),
    "not utf-8": (b'{"dataframe_split": "\xff\xfe"}', 400, "BAD_REQUEST"),
    "empty body": (b"", 400, "BAD_REQUEST"),
    "a list": (b"[1, 2, 3]", 400, "BAD_REQUEST"),
    "a number": (b"42", 400, "BAD_REQUEST"),
    "1.x format": (json.dumps({"columns": FEATURES, "data": [[1, 2, 3, 4]]}).encode(), 400, "BAD_REQUEST"),
    "unknown key": (b'{"rows": [[1, 2, 3, 4]]}', 400, "BAD_REQUEST"),
    "two format keys": (json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[1, 2, 3, 4]]},
                                    "inputs": [[1, 2, 3, 4]]}).encode(), 400, "BAD_REQUEST"),
    "split not an object": (b'{"dataframe_split": [[1, 2, 3, 4]]}', 400, "BAD_REQUEST"),
    "split without data": (json.dumps({"dataframe_split": {"columns": FEATURES}}).encode(), 400, "BAD_REQUEST"),
    "split with extra key": (json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[1, 2, 3, 4]],
                                                             "dtype": "x"}}).encode(), 400, "BAD_REQUEST"),
    "ragged rows": (json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[1, 2, 3, 4], [1]]}}).encode(),
                    400, "BAD_REQUEST"),
    "records not a list": (b'{"dataframe_records": {"a": 1}}', 400, "BAD_REQUEST"),
    "missing column": (json.dumps({"dataframe_split": {"columns": FEATURES[:3], "data": [[1, 2, 3]]}}).encode(),
                       400, "INVALID_PARAMETER_VALUE"),
    "string in a double column": (json.dumps({"dataframe_split": {"columns": FEATURES,
                                                                  "data": [["x", 2, 3, 4]]}}).encode(),
                                  400, "BAD_REQUEST"),
    "nested values": (json.dumps({"dataframe_records": [{"sepal_length": {"x": 1}, "sepal_width": 1,
                                                         "petal_length": 1, "petal_width": 1}]}).encode(),
                      400, None),
    "inputs of the wrong shape": (b'{"inputs": {"sepal_length": [1, 2], "sepal_width": [1]}}', 400, None),
    "params not an object": (json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[1, 2, 3, 4]]},
                                         "params": "x"}).encode(), 400, None),
}


@pytest.mark.parametrize("case", list(BAD_JSON_PAYLOADS))
def test_bad_json_payloads_are_400_with_a_json_error(sk, case):
    _, _, server = sk
    body, status, code = BAD_JSON_PAYLOADS[case]
    answer = invoke(server.port, body)
    assert answer.status == status, (case, answer.status, answer.body)
    error = answer.json()
    assert error["message"]
    if code is not None:
        assert error["error_code"] == code, error


def test_the_1x_format_gets_mlflows_explanation(sk):
    _, _, server = sk
    answer = invoke(server.port, {"columns": FEATURES, "data": [[1, 2, 3, 4]]})
    assert "Received dictionary with input fields: []" in answer.json()["message"]
    assert "scoring protocol has changed" in answer.json()["message"]


@pytest.mark.parametrize(("content_type", "needle"), [
    ("text/plain", "only supports the following content types"),
    ("application/xml", "only supports the following content types"),
    ("application/json; charset=latin-1", "only supports UTF-8"),
    ("text/csv; charset=utf-16", "only supports UTF-8"),
    ("application/json; format=pandas-split", "Unrecognized content type parameters: format"),
    (None, "Missing Content-Type"),
])
def test_wrong_content_type_is_415_json(sk, content_type, needle):
    _, sample, server = sk
    answer = invoke(server.port, json.dumps({"dataframe_records": sample.to_dict(orient="records")}),
                    content_type=content_type)
    assert answer.status == 415, answer.body
    assert answer.headers["content-type"] == "application/json"
    assert needle in answer.json()["message"]


@pytest.mark.parametrize("body", [b"sepal_length\nnot-a-number\n", b"\xff\xfe\x00garbage", b"", b'a,b\n"unclosed'])
def test_bad_csv_is_400(sk, body):
    _, _, server = sk
    answer = invoke(server.port, body, content_type="text/csv")
    assert 400 <= answer.status < 500, (body, answer.status, answer.body)
    assert answer.json()["error_code"]


def test_oversized_bodies_are_413(sk):
    _, _, server = sk
    declared = raw_http(server.port, "POST", "/invocations",
                        headers={"Content-Type": "application/json", "Content-Length": str(200 * 1024 * 1024)},
                        body=b"{}")
    assert declared.status == 413 and declared.json()["error_code"]
    size = 100 * 1024 * 1024 + 10
    chunked = f"{size:x}\r\n".encode() + b" " * size + b"\r\n0\r\n\r\n"
    streamed = raw_http(server.port, "POST", "/invocations", body=chunked, timeout=60,
                        headers={"Content-Type": "application/json", "Content-Length": None,
                                 "Transfer-Encoding": "chunked"})
    assert streamed.status == 413 and streamed.json()["error_code"]


def test_an_unknown_host_header_is_refused(sk):
    _, sample, server = sk
    answer = invoke(server.port, {"dataframe_records": sample.to_dict(orient="records")},
                    headers={"Host": "attacker.example:80"})
    assert answer.status == 403 and answer.json()["error_code"] == "PERMISSION_DENIED"
    assert invoke(server.port, {"dataframe_records": sample.to_dict(orient="records")},
                  headers={"Host": "localhost"}).status == 200


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(string.printable, max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(string.ascii_letters, max_size=6),
                                                                      children, max_size=4),
    max_leaves=12,
)
_payload_strategy = st.one_of(
    _json_values,
    st.dictionaries(st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "params",
                                     "columns", "data"]), _json_values, max_size=3),
    st.fixed_dictionaries({"dataframe_split": st.fixed_dictionaries({
        "columns": st.lists(st.one_of(st.sampled_from([*FEATURES, "other", 1, None]),
                                      st.lists(st.integers(0, 3), max_size=1)), max_size=5),
        "data": st.lists(st.lists(_json_values, max_size=5), max_size=3)})}),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=_payload_strategy)
def test_no_payload_makes_a_5xx(sk, payload):
    _, _, server = sk
    answer = invoke(server.port, json.dumps(payload))
    assert answer.status < 500, (payload, answer.status, answer.body)
    if answer.status != 200:
        assert "message" in answer.json()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=_payload_strategy)
def test_no_payload_makes_a_5xx_with_batching(sk_batching, payload):
    _, _, server = sk_batching
    answer = invoke(server.port, json.dumps(payload))
    assert answer.status < 500, (payload, answer.status, answer.body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200))
def test_no_csv_body_makes_a_5xx(sk, body):
    _, _, server = sk
    answer = invoke(server.port, body, content_type="text/csv")
    assert answer.status < 500, (body, answer.status, answer.body)


# ---- model failures and timeouts ---------------------------------------------------------------------


def test_a_model_that_raises_is_a_500(tmp_path):
    path = save_custom(tmp_path / "model", FailingModel())
    with models_serve(path, tmp_path / "server") as server:
        answer = invoke(server.port, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}})
        assert answer.status == 500
        error = answer.json()
        assert error["error_code"] == "INTERNAL_ERROR"
        assert "the model broke on purpose" in error["message"]
        assert "stack_trace" in error
        assert request(server.port, "GET", "/ping", content_type=None).status == 200  # still serving


def test_a_request_over_the_timeout_is_a_504(tmp_path):
    path = save_custom(tmp_path / "model", SlowModel(), params={"seconds": 3.0})
    with models_serve(path, tmp_path / "server", "-t", "1") as server:
        answer = invoke(server.port, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}})
        assert answer.status == 504
        assert answer.json()["error_code"] == "DEADLINE_EXCEEDED"
        fast = invoke(server.port, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]},
                                    "params": {"seconds": 0.0}})
        assert fast.status == 200 and fast.json() == {"predictions": [0]}


def test_timeout_from_the_environment_variable(tmp_path):
    path = save_custom(tmp_path / "model", SlowModel(), params={"seconds": 3.0})
    with models_serve(path, tmp_path / "server", env={"MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": "1"}) as server:
        assert invoke(server.port, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}).status == 504


def test_inference_config_from_the_environment_variable(tmp_path):
    """MLFLOW_PYFUNC_INFERENCE_CONFIG in the serving process overrides the saved model_config's keys, in
    every worker, as pyfunc.load_model does; without it the saved config holds."""
    from tests.scoring._models import ConfigModel

    path = tmp_path / "model"
    mlflow.pyfunc.save_model(str(path), python_model=ConfigModel(), model_config={"scale": 1, "label": "saved"},
                             pip_requirements=["pandas"])
    payload = {"dataframe_split": {"columns": ["a"], "data": [[1.0], [2.0]]}}
    with models_serve(path, tmp_path / "plain") as server:
        assert invoke(server.port, payload).json() == {"predictions": ["1/saved", "1/saved"]}
    env = {"MLFLOW_PYFUNC_INFERENCE_CONFIG": '{"scale": 7}'}
    with models_serve(path, tmp_path / "configured", "-w", "2", env=env) as server:
        answers = [invoke(server.port, payload) for _ in range(4)]
        assert [a.json() for a in answers] == [{"predictions": ["7/saved", "7/saved"]}] * 4


# ---- workers and batching ----------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def test_several_workers_share_the_load(tmp_path):
    path = save_custom(tmp_path / "model", PidModel())
    payload = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}
    with models_serve(path, tmp_path / "server", "-w", "2") as server:
        workers = _children(server.pid)
        assert len(workers) == 2, workers
        seen: set[int] = set()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for _ in range(10):  # bounded: the kernel spreads connections, usually at once
                answers = list(pool.map(lambda _: invoke(server.port, payload), range(8)))
                assert all(a.status == 200 for a in answers)
                seen |= {a.json()["predictions"][0] for a in answers}
                if len(seen) == 2:
                    break
        assert seen == set(workers)


def _concurrent_requests(port: int, frames: list[pd.DataFrame]) -> list:
    def one(frame: pd.DataFrame):
        if len(frame) % 2:
            payload = {"dataframe_split": {"columns": FEATURES, "data": frame.values.tolist()}}
        else:
            payload = {"dataframe_records": frame.to_dict(orient="records")}
        return invoke(port, payload)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, frames))


def _frames() -> list[pd.DataFrame]:
    from tests.scoring._models import iris_frame

    X, _ = iris_frame()
    return [X.iloc[i:i + 1 + i % 3] for i in range(0, 120, 2)]


@pytest.mark.parametrize("mode", [["--no-batching"], ["--batching"], ["--batching", "-w", "2"],
                                  ["--batching", "--max-batch-rows", "3", "--max-batch-wait-ms", "20"]])
def test_batching_on_and_off_give_identical_predictions(tmp_path, mode):
    path, _ = save_sklearn(tmp_path / "model")  # class labels
    frames = _frames()
    with models_serve(path, tmp_path / "server", *mode) as server:
        answers = _concurrent_requests(server.port, frames)
    for frame, answer in zip(frames, answers, strict=True):
        assert answer.status == 200, answer.body
        assert answer.json() == expected(path, frame.reset_index(drop=True))


def test_batched_probabilities_match_to_the_last_bits(sk, tmp_path):
    """Floating-point results of a batch can differ from one-by-one results in the last bit (BLAS
    picks kernels by matrix size); they agree to 1e-12."""
    path, _, _ = sk
    frames = _frames()
    with models_serve(path, tmp_path / "server", "--batching", "--max-batch-wait-ms", "20") as server:
        answers = _concurrent_requests(server.port, frames)
    for frame, answer in zip(frames, answers, strict=True):
        assert answer.status == 200, answer.body
        want = expected(path, frame.reset_index(drop=True))["predictions"]
        got = answer.json()["predictions"]
        assert len(got) == len(want)
        for row_got, row_want in zip(got, want, strict=True):
            assert row_got == pytest.approx(row_want, rel=1e-12, abs=1e-15)


def test_batching_predicts_concurrent_requests_together(tmp_path):
    path = save_custom(tmp_path / "model", BatchSizeModel())
    payload = {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}}
    with (models_serve(path, tmp_path / "server", "--batching", "--max-batch-wait-ms", "50") as server,
          concurrent.futures.ThreadPoolExecutor(8) as pool):
        answers = list(pool.map(lambda _: invoke(server.port, payload), range(8)))
    sizes = [a.json()["predictions"] for a in answers]
    assert all(len(s) == 1 for s in sizes)  # each request gets its own rows back
    assert max(s[0] for s in sizes) > 1, sizes


def test_batching_keeps_bad_requests_apart(sk, tmp_path):
    """One request with a bad row fails alone; the good ones predicted in the same batch still answer."""
    path, sample, _ = sk
    good = {"dataframe_split": {"columns": FEATURES, "data": sample.values.tolist()[:2]}}
    bad = {"dataframe_split": {"columns": FEATURES, "data": [["x", 1, 2, 3]]}}
    with (models_serve(path, tmp_path / "server", "--batching", "--max-batch-wait-ms", "30") as server,
          concurrent.futures.ThreadPoolExecutor(8) as pool):
        answers = list(pool.map(lambda p: invoke(server.port, p), [good, bad] * 6))
    for payload, answer in zip([good, bad] * 6, answers, strict=True):
        if payload is good:
            assert answer.status == 200 and answer.json() == expected(path, sample.iloc[:2])
        else:
            assert answer.status == 400, answer.body


def test_batching_with_a_timeout_is_a_504(tmp_path):
    path = save_custom(tmp_path / "model", SlowModel(), params={"seconds": 3.0})
    with models_serve(path, tmp_path / "server", "--batching", "-t", "1") as server:
        answer = invoke(server.port, {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2.0]]}})
        assert answer.status == 504
