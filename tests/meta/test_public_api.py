"""The MLflow names users write exist under fluvial (pinned so they cannot disappear silently)."""

from __future__ import annotations

import importlib

import pytest

import fluvial

FLUENT = [
    "ActiveRun", "active_run", "create_experiment", "delete_experiment", "delete_run", "delete_tag", "end_run",
    "get_artifact_uri", "get_experiment", "get_experiment_by_name", "get_parent_run", "get_registry_uri", "get_run",
    "get_tracking_uri", "is_tracking_uri_set", "last_active_run", "log_artifact", "log_artifacts", "log_dict",
    "log_figure", "log_image", "log_input", "log_metric", "log_metrics", "log_param", "log_params", "log_text",
    "search_experiments", "search_runs", "set_experiment", "set_experiment_tag", "set_experiment_tags",
    "set_registry_uri", "set_tag", "set_tags", "set_tracking_uri", "start_run", "MlflowClient", "MlflowException",
]


@pytest.mark.parametrize("name", FLUENT)
def test_fluent_name_exists(name):
    assert callable(getattr(fluvial, name))


def test_import_paths_users_write():
    from fluvial import MlflowClient
    from fluvial.tracking import MlflowClient as TrackingClient

    assert MlflowClient is TrackingClient
    assert importlib.import_module("fluvial.entities").Run
    assert importlib.import_module("fluvial.exceptions").MlflowException is fluvial.MlflowException


def test_unknown_attribute_is_attribute_error():
    with pytest.raises(AttributeError):
        fluvial.does_not_exist  # noqa: B018


def test_every_error_code_has_a_typed_subclass_with_http_status():
    from fluvial import exceptions as ex

    for code in ex.ERROR_CODES:
        err = ex.MlflowException("m", error_code=code)
        assert type(err) is not ex.MlflowException and err.error_code == code
        assert err.http_status == ex.HTTP_STATUS.get(code, 500)
    assert isinstance(ex.MlflowException("x", error_code="RESOURCE_ALREADY_EXISTS"), ex.ResourceAlreadyExists)
    assert ex.ResourceAlreadyExists("x").http_status == 400
    assert ex.ResourceDoesNotExist("x").http_status == 404
    assert ex.MlflowException("x", error_code="NOT_A_CODE").error_code == "INTERNAL_ERROR"
    assert ex.MlflowException("x").error_code == "INTERNAL_ERROR"


def test_exceptions_pickle_and_serialize():
    import json
    import pickle

    from fluvial import exceptions as ex

    err = ex.InvalidParameterValue("bad", extra=1)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is ex.InvalidParameterValue and again.message == "bad" and again.json_kwargs == {"extra": 1}
    assert json.loads(err.serialize_as_json()) == {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad", "extra": 1}
    rest = ex.RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "gone"})
    assert rest.message == "RESOURCE_DOES_NOT_EXIST: gone" and rest.http_status == 404
    assert pickle.loads(pickle.dumps(rest)).json == rest.json


def test_test_module_basenames_are_unique():
    """pytest imports test modules by basename (no packages under tests/): two test_x.py files clash."""
    import collections
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    names = collections.Counter(p.name for p in root.rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []
