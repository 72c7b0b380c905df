"""Parameters: required values, typed checks that name the parameter, path/uri handling, quoting."""

from __future__ import annotations

import re
import shlex

import pytest

from fluvial.projects import ExecutionException
from fluvial.projects.params import build_command, check_parameters, resolve_paths
from fluvial.projects.spec import EntryPoint, Parameter


def entry(command: str, **params: Parameter) -> EntryPoint:
    return EntryPoint("main", command, dict(params))


TRAIN = entry("python train.py --alpha {alpha} --n {n} --label {label}",
              alpha=Parameter("alpha", "float", 0.5), n=Parameter("n", "int", 3), label=Parameter("label", "string"))


def test_defaults_given_values_and_extras():
    values, extra = check_parameters(TRAIN, {"label": "hello world", "n": 7, "seed": 42, "mode": "fast"})
    assert values == {"alpha": "0.5", "n": "7", "label": "hello world"}
    assert extra == {"seed": "42", "mode": "fast"}
    command = build_command(TRAIN, values, extra)
    assert command == "python train.py --alpha 0.5 --n 7 --label 'hello world' --seed 42 --mode fast"
    assert shlex.split(command)[-4:] == ["--seed", "42", "--mode", "fast"]


def test_missing_required_parameters_are_named():
    with pytest.raises(ExecutionException, match=r"No value given for missing parameters: 'label'") as info:
        check_parameters(TRAIN, {"alpha": 1})
    assert "entry point 'main'" in str(info.value)
    two = entry("x {a} {b}", a=Parameter("a"), b=Parameter("b"))
    with pytest.raises(ExecutionException, match=r"missing parameters: 'a', 'b'"):
        check_parameters(two, {})
    with pytest.raises(ExecutionException, match=r"missing parameters: 'label'"):
        check_parameters(TRAIN, {"label": None})  # None is "not given"


@pytest.mark.parametrize(("given", "message"), [
    ({"alpha": "abc"}, "Parameter 'alpha' of entry point 'main' must be a float, got 'abc'"),
    ({"alpha": ""}, "Parameter 'alpha' of entry point 'main' must be a float, got ''"),
    ({"n": "3.5"}, "Parameter 'n' of entry point 'main' must be an int, got '3.5'"),
    ({"n": "ten"}, "Parameter 'n' of entry point 'main' must be an int, got 'ten'"),
    ({"n": True}, "Parameter 'n' of entry point 'main' must be an int, got 'True'"),
])
def test_typed_values_are_checked(given, message):
    with pytest.raises(ExecutionException) as info:
        check_parameters(TRAIN, {"label": "x", **given})
    assert message in str(info.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ExecutionException) as info:
        check_parameters(TRAIN, {"label": "x", "alpha": "a", "n": "b"})
    assert "'alpha'" in str(info.value) and "'n'" in str(info.value)


@pytest.mark.parametrize("value", ["1", "-2.5", "1e-3", "+.5", "nan", "inf", 0.25, 2])
def test_floats_pass_through_verbatim(value):
    values, _ = check_parameters(TRAIN, {"label": "x", "alpha": value})
    assert values["alpha"] == str(value)


@pytest.mark.parametrize("value", ["0", "-12", "+7", 42])
def test_ints(value):
    assert check_parameters(TRAIN, {"label": "x", "n": value})[0]["n"] == str(value)


def test_a_bad_default_is_reported_as_such():
    ep = entry("x {alpha}", alpha=Parameter("alpha", "float", "fast"))
    with pytest.raises(ExecutionException, match="its default in the MLproject file"):
        check_parameters(ep, {})


def test_uri_parameters_need_a_scheme():
    ep = entry("x {u}", u=Parameter("u", "uri"))
    assert check_parameters(ep, {"u": "s3://bucket/key"})[0] == {"u": "s3://bucket/key"}
    with pytest.raises(ExecutionException, match="Expected URI for parameter u but got relative/path"):
        check_parameters(ep, {"u": "relative/path"})


def test_path_parameters_must_exist_and_become_absolute(tmp_path):
    (tmp_path / "data.csv").write_text("a\n1\n")
    ep = entry("x {data}", data=Parameter("data", "path"))
    values, _ = check_parameters(ep, {"data": "data.csv"})  # the working directory is tmp_path
    assert values == {"data": "data.csv"}  # logged as given
    assert resolve_paths(ep, values, None) == {"data": str(tmp_path / "data.csv")}
    assert resolve_paths(ep, {"data": (tmp_path / "data.csv").as_uri()}, None) == {"data": str(tmp_path / "data.csv")}
    with pytest.raises(ExecutionException, match=r"Got value nope\.csv for parameter data, but no such file"):
        check_parameters(ep, {"data": "nope.csv"})


def test_remote_path_parameters_are_downloaded(tmp_path):
    ep = entry("x {data}", data=Parameter("data", "path"))
    seen = []

    def download(uri, target):
        seen.append((uri, target))
        (tmp_path / "store" / "f").parent.mkdir(exist_ok=True)
        return target + "/f"

    resolved = resolve_paths(ep, {"data": "s3://bucket/f"}, str(tmp_path / "store"), download=download)
    assert seen[0][0] == "s3://bucket/f" and seen[0][1].startswith(str(tmp_path / "store"))
    assert seen[0][1].endswith("param_0") and resolved["data"] == seen[0][1] + "/f"

    def broken(uri, target):
        raise OSError("no route")

    with pytest.raises(ExecutionException, match="Could not download s3://bucket/f for parameter 'data': no route"):
        resolve_paths(ep, {"data": "s3://bucket/f"}, str(tmp_path / "store"), download=broken)


INJECTIONS = ["'; touch pwned #", "$(touch pwned)", "`touch pwned`", "a; touch pwned", "x\" && touch pwned && \"",
              "a\ntouch pwned", "--flag=$(touch pwned)", "{label}", "a b  c"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_values_are_shell_quoted(value):
    values, extra = check_parameters(TRAIN, {"label": value, "extra": value})
    words = shlex.split(build_command(TRAIN, values, extra))
    assert words[words.index("--label") + 1] == value
    assert words[-2:] == ["--extra", value]


def test_extra_parameter_names_cannot_inject():
    _, extra = check_parameters(TRAIN, {"label": "x", "a b:c/d": "1"})
    command = build_command(TRAIN, {"alpha": "0.5", "n": "3", "label": "x"}, extra)
    assert shlex.split(command)[-2:] == ["--a b:c/d", "1"]
    for bad, message in [("", "Missing value"), ("-x", "must not start with '-'"),
                         ("a;touch$(pwned)#", "Invalid param name: 'a;touch$(pwned)#'"), ("../up", "Invalid param name")]:
        with pytest.raises(ExecutionException, match=re.escape(message)):
            check_parameters(TRAIN, {"label": "x", bad: "1"})
