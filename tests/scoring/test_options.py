"""Small pieces of ``models serve``: worker counts, default allowed hosts, the batch key, output encoding."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from fluvial.exceptions import InvalidParameterValue
from fluvial.scoring.batching import batch_key
from fluvial.scoring.output import encode_predictions
from fluvial.scoring.serve import available_cpus, default_allowed_hosts, parse_workers


def test_parse_workers():
    assert parse_workers("3") == 3 and parse_workers(2) == 2
    assert parse_workers("auto") == available_cpus() >= 1
    assert available_cpus() <= (os.cpu_count() or 1)
    for bad in ("0", "-2", "two", ""):
        with pytest.raises(InvalidParameterValue, match="--workers"):
            parse_workers(bad)


def test_default_allowed_hosts():
    assert default_allowed_hosts("127.0.0.1") == ("localhost", "127.0.0.1", "[::1]")
    assert default_allowed_hosts("10.1.2.3") == ("localhost", "127.0.0.1", "[::1]", "10.1.2.3")
    assert default_allowed_hosts("::1") == ("localhost", "127.0.0.1", "[::1]")
    for anywhere in ("0.0.0.0", "::"):
        assert default_allowed_hosts(anywhere) == ("*",)


def test_batch_key():
    assert batch_key({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}) == (("a", "b"),
                                                                                                [[1, 2], [3, 4]])
    assert batch_key({"dataframe_records": [{"a": 1, "b": 2}]}) == (("a", "b"), [[1, 2]])
    not_batchable = [
        {"dataframe_split": {"columns": ["a"], "data": [[1]]}, "params": {"x": 1}},
        {"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [0]}},
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}},
        {"dataframe_split": {"columns": ["a"], "data": []}},
        {"dataframe_split": {"columns": [["a"]], "data": [[1]]}},
        {"dataframe_records": [{"a": 1}, {"b": 2}]},
        {"dataframe_records": []},
        {"inputs": [[1, 2]]},
    ]
    for payload in not_batchable:
        assert batch_key(payload) is None, payload


def test_encoding_follows_mlflow():
    frame = pd.DataFrame({"y": [1, 2], "z": ["a", "b"]})
    assert encode_predictions(frame) == b'{"predictions":[{"y":1,"z":"a"},{"y":2,"z":"b"}]}'
    assert encode_predictions(pd.Series([1.5, 2.5])) == b'{"predictions":[{"0":1.5},{"0":2.5}]}'
    assert encode_predictions(np.array([[1, 2]])) == b'{"predictions":[[1,2]]}'
    assert encode_predictions(np.float32(1.5)) == b'{"predictions":1.5}'
    assert encode_predictions({"a": b"\x00\x01"}) == b'{"predictions":{"a":"AAE="}}'
    assert encode_predictions([float("nan")]) == b'{"predictions":[null]}'  # valid JSON; MLflow writes NaN
