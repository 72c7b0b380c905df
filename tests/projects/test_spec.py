"""The MLproject file: names, keys, environments, entry points, and MLflow's conventions without it."""

from __future__ import annotations

import pytest

from fluvial.projects import ExecutionException
from fluvial.projects.spec import CONDA, DOCKER, PYTHON, load_project
from tests.projects.conftest import write_project

MLPROJECT = """
name: demo
python_env: envs/python_env.yaml
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      n: {type: int, default: 3}
      label: string
      data: {type: path, default: ./data.csv}
      u: {type: uri, default: "s3://bucket/x"}
    command: "python train.py --alpha {alpha} --n {n} --label {label} --data {data} --u {u}"
  other:
    command: "python other.py"
"""


def test_a_full_mlproject_file(tmp_path):
    project = load_project(write_project(tmp_path / "p", {"MLproject": MLPROJECT, "envs/python_env.yaml": "python: '3.11'\n"}))
    assert project.name == "demo"
    assert project.env_type == PYTHON and project.env_path == str(tmp_path / "p" / "envs" / "python_env.yaml")
    assert sorted(project.entry_points) == ["main", "other"]
    params = project.entry_points["main"].parameters
    assert [(p.name, p.type, p.default, p.required) for p in params.values()] == [
        ("alpha", "float", 0.5, False), ("n", "int", 3, False), ("label", "string", None, True),
        ("data", "path", "./data.csv", False), ("u", "uri", "s3://bucket/x", False)]
    assert project.get_entry_point("other").command == "python other.py"


@pytest.mark.parametrize("name", ["MLproject", "mlproject", "MLProject"])
def test_the_file_name_is_mlproject_in_any_case(tmp_path, name):
    project = load_project(write_project(tmp_path / "p", {name: "name: x\nentry_points:\n  main:\n    command: echo hi\n"}))
    assert project.name == "x" and "main" in project.entry_points


@pytest.mark.parametrize("name", ["MLproject.yaml", "MLproject.yml", "mlproject.txt"])
def test_a_file_with_an_extension_is_not_the_descriptor(tmp_path, name):
    project = load_project(write_project(tmp_path / "p", {name: "name: x\nentry_points:\n  main:\n    command: echo hi\n"}))
    assert project.mlproject_path is None and project.entry_points == {} and project.name is None
    with pytest.raises(ExecutionException, match="Could not find main among entry points"):
        project.get_entry_point("main")


def test_without_an_mlproject_file_scripts_are_entry_points(tmp_path, monkeypatch):
    root = write_project(tmp_path / "p", {"train.py": "print(1)\n", "run.sh": "echo hi\n", "sub/job.py": ""})
    project = load_project(root)
    assert project.entry_points == {} and project.env_type == PYTHON and project.env_path is None
    assert project.get_entry_point("train.py").command == "python train.py"
    assert project.get_entry_point("sub/job.py").command == "python sub/job.py"
    monkeypatch.setenv("SHELL", "/bin/bash")
    assert project.get_entry_point("run.sh").command == "/bin/bash run.sh"
    monkeypatch.delenv("SHELL")
    assert project.get_entry_point("run.sh").command == "bash run.sh"
    with pytest.raises(ExecutionException, match=r"no file missing\.py in the project"):
        project.get_entry_point("missing.py")
    with pytest.raises(ExecutionException, match=r"Supported script file extensions: \['.py', '.sh'\]"):
        project.get_entry_point("train.R")


def test_script_names_are_quoted(tmp_path):
    root = write_project(tmp_path / "p", {"my script.py": ""})
    assert load_project(root).get_entry_point("my script.py").command == "python 'my script.py'"


@pytest.mark.parametrize(("files", "env_type", "env_file"), [
    ({"python_env.yaml": "python: '3.11'\n", "conda.yaml": "dependencies: []\n"}, PYTHON, "python_env.yaml"),
    ({"conda.yaml": "dependencies: []\n"}, CONDA, "conda.yaml"),
    ({}, PYTHON, None),
])
def test_environment_files_are_discovered_by_convention(tmp_path, files, env_type, env_file):
    project = load_project(write_project(tmp_path / "p", {"train.py": "", **files}))
    assert project.env_type == env_type
    assert project.env_path == (str(tmp_path / "p" / env_file) if env_file else None)


def test_conda_env_key(tmp_path):
    root = write_project(tmp_path / "p", {"MLproject": "conda_env: env/conda.yml\n", "env/conda.yml": "dependencies: []\n"})
    project = load_project(root)
    assert project.env_type == CONDA and project.env_path == str(root / "env" / "conda.yml")


def test_only_one_environment_field(tmp_path):
    root = write_project(tmp_path / "p", {"MLproject": "python_env: a.yaml\nconda_env: b.yaml\n"})
    with pytest.raises(ExecutionException, match="Project cannot contain multiple environment fields"):
        load_project(root)


@pytest.mark.parametrize("key", ["python_env", "conda_env"])
def test_a_missing_environment_file_is_an_error(tmp_path, key):
    root = write_project(tmp_path / "p", {"MLproject": f"{key}: nope.yaml\n"})
    with pytest.raises(ExecutionException, match=r"nope.yaml, but no such file was found"):
        load_project(root)


def test_docker_env(tmp_path):
    root = write_project(tmp_path / "p", {"MLproject": """
        name: dockered
        docker_env:
          image: python:3.11-slim
          volumes: ["/data:/data"]
          environment: [["NEW_VAR", "value"], "COPIED_VAR"]
        entry_points:
          main:
            command: python train.py
        """})
    project = load_project(root)
    assert project.env_type == DOCKER
    assert project.docker_env == {"image": "python:3.11-slim", "volumes": ["/data:/data"],
                                  "environment": [["NEW_VAR", "value"], "COPIED_VAR"]}


@pytest.mark.parametrize(("docker_env", "message"), [
    ("{volumes: []}", "no image attribute found"),
    ("{image: x, volumes: /data}", "Docker volumes must be a list of strings"),
    ("{image: x, environment: [[a, b, c]]}", "environment must be a list"),
])
def test_bad_docker_env(tmp_path, docker_env, message):
    root = write_project(tmp_path / "p", {"MLproject": f"name: d\ndocker_env: {docker_env}\n"})
    with pytest.raises(ExecutionException, match=message):
        load_project(root)


@pytest.mark.parametrize(("text", "message"), [
    ("- a\n- b\n", "must be a YAML mapping"),
    ("entry_points: [main]\n", "`entry_points` must be a mapping"),
    ("entry_points:\n  main: {parameters: {}}\n", "entry point 'main' has no `command`"),
    ("entry_points:\n  main: {command: 'x', parameters: {a: 1.5}}\n", "parameter 'a' of entry point 'main' must be"),
    ("entry_points:\n  main: {command: 'python t.py {nope}'}\n", r"refers to \{nope\}, which is not one of its"),
    ("entry_points:\n  main: {command: 'python t.py {a!r}', parameters: {a: string}}\n", "only plain"),
    ("entry_points:\n  main: {command: 'python t.py {a.upper}', parameters: {a: string}}\n", r"refers to \{a.upper\}"),
    ("entry_points:\n  main: {command: 'python t.py {', parameters: {a: string}}\n", "not a valid template"),
    ("name: [1\n", "not valid YAML"),
])
def test_invalid_files_are_reported_with_the_path(tmp_path, text, message):
    root = write_project(tmp_path / "p", {"MLproject": text})
    with pytest.raises(ExecutionException, match=message) as info:
        load_project(root)
    assert str(root / "MLproject") in str(info.value)


def test_literal_braces_and_an_empty_file(tmp_path):
    root = write_project(tmp_path / "p", {"MLproject": "entry_points:\n  main:\n    command: \"echo '{{x}}' {a}\"\n"
                                                          "    parameters: {a: string}\n"})
    assert load_project(root).entry_points["main"].parameters["a"].required
    empty = write_project(tmp_path / "q", {"MLproject": ""})
    assert load_project(empty).entry_points == {}


def test_unknown_parameter_types_pass_as_strings(tmp_path, caplog):
    root = write_project(tmp_path / "p", {"MLproject": "entry_points:\n  main:\n    command: echo {flag}\n"
                                                          "    parameters: {flag: {type: bool, default: true}}\n"})
    param = load_project(root).entry_points["main"].parameters["flag"]
    assert (param.type, param.default) == ("bool", True)
    assert "not one of float, int, string, path, uri" in caplog.text


def test_a_missing_project_directory(tmp_path):
    with pytest.raises(ExecutionException, match="does not exist"):
        load_project(str(tmp_path / "nowhere"))
