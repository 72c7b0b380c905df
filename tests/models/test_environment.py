"""Environment files of a model directory, requirement handling, and requirement inference.

Inference runs its real subprocess; instead of a saved fluvial model, most tests load through small
loader modules written to a temporary directory (the ``loader_check`` hook), and fake installed
distributions are real ``.dist-info`` directories on ``sys.path``.
"""

from __future__ import annotations

import logging
import os
import pickle
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from fluvial.exceptions import InvalidParameterValue, MlflowException, ResourceDoesNotExist
from fluvial.models import environment as env
from fluvial.models import infer_requirements as inf
from fluvial.models import requirements as reqs
from fluvial.models.requirements import installed_version

PY = env.python_version()
PIP = installed_version("pip")
BUILD = [f"{p}=={installed_version(p)}" if installed_version(p) else p for p in ("pip", "setuptools", "wheel")]


def read(path: Path) -> str:
    return path.read_text()


def python_env_text() -> str:
    return "python: {}\nbuild_dependencies:\n{}dependencies:\n- -r requirements.txt\n".format(
        PY, "".join(f"- {b}\n" for b in BUILD)
    )


def conda_text(pip_lines: list[str]) -> str:
    pip = "".join(f"  - {line}\n" for line in pip_lines)
    pip_dep = f"- pip<={PIP}\n" if pip_lines else ""
    pip_section = f"- pip:\n{pip}" if pip_lines else "- pip: []\n"
    return f"channels:\n- conda-forge\ndependencies:\n- python={PY}\n{pip_dep}{pip_section}name: mlflow-env\n"


# ---------------------------------------------------------------------------------------------------
# write_environment


def test_default_requirements_files_exactly(tmp_path: Path) -> None:
    out = env.write_environment(str(tmp_path), default_pip_requirements=["scikit-learn==1.9.1", "cloudpickle==3.1.3"])
    assert out == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert read(tmp_path / "requirements.txt") == "scikit-learn==1.9.1\ncloudpickle==3.1.3"
    assert read(tmp_path / "conda.yaml") == conda_text(["scikit-learn==1.9.1", "cloudpickle==3.1.3"])
    assert read(tmp_path / "python_env.yaml") == python_env_text()
    assert not (tmp_path / "constraints.txt").exists()


def test_no_mlflow_or_fluvial_pin_is_added(tmp_path: Path) -> None:
    env.write_environment(str(tmp_path), default_pip_requirements=["numpy==2.0"], pip_requirements=["pandas"])
    assert read(tmp_path / "requirements.txt") == "pandas"


def test_infer_from_is_united_with_defaults_and_sorted(tmp_path: Path) -> None:
    calls = []

    def infer() -> list[str]:
        calls.append(1)
        return ["scipy==1.0", "numpy==2.0", "cloudpickle==3.1.3"]

    env.write_environment(str(tmp_path), default_pip_requirements=["scikit-learn==1.9.1", "cloudpickle==3.1.3"],
                          infer_from=infer)
    assert read(tmp_path / "requirements.txt").splitlines() == [
        "cloudpickle==3.1.3", "numpy==2.0", "scikit-learn==1.9.1", "scipy==1.0"]
    # extra_pip_requirements still infers, and is appended after the defaults
    env.write_environment(str(tmp_path), default_pip_requirements=["scikit-learn==1.9.1"],
                          extra_pip_requirements=["foo==1.0", "scikit-learn"], infer_from=infer)
    assert read(tmp_path / "requirements.txt").splitlines() == [
        "cloudpickle==3.1.3", "numpy==2.0", "scikit-learn==1.9.1", "scipy==1.0", "foo==1.0"]
    assert len(calls) == 2
    # pip_requirements and conda_env never infer
    env.write_environment(str(tmp_path), default_pip_requirements=[], pip_requirements=["x"], infer_from=infer)
    env.write_environment(str(tmp_path), default_pip_requirements=[], conda_env={"dependencies": []}, infer_from=infer)
    assert len(calls) == 2


def test_pip_requirements_with_files_and_constraints(tmp_path: Path) -> None:
    (tmp_path / "more.txt").write_text("# comment\nscipy  # inline\n\nrequests \\\n  >=2\n-c cons.txt\n")
    (tmp_path / "cons.txt").write_text("numpy<3\n# c\nscipy")
    model = tmp_path / "model"
    model.mkdir()
    env.write_environment(str(model), default_pip_requirements=["ignored==1"],
                          pip_requirements=["pandas", "-r more.txt"])
    assert read(model / "requirements.txt") == "pandas\nscipy\nrequests>=2\n-c constraints.txt"
    assert read(model / "constraints.txt") == "numpy<3\nscipy"
    conda = yaml.safe_load(read(model / "conda.yaml"))
    assert conda["dependencies"][-1] == {"pip": ["pandas", "scipy", "requests>=2", "-c constraints.txt"]}


def test_pip_requirements_as_a_file_path(tmp_path: Path) -> None:
    sub = tmp_path / "reqs"
    sub.mkdir()
    (sub / "requirements.txt").write_text("pandas==2.0\n-r other.txt\n")
    (sub / "other.txt").write_text("numpy\n")
    model = tmp_path / "model"
    model.mkdir()
    env.write_environment(str(model), default_pip_requirements=[], extra_pip_requirements=str(sub / "requirements.txt"))
    assert read(model / "requirements.txt") == "pandas==2.0\nnumpy"


def test_requirements_are_merged_as_mlflow_prints_them(tmp_path: Path) -> None:
    env.write_environment(str(tmp_path), default_pip_requirements=[], pip_requirements=[
        "pandas >= 1.0, <3", "numpy[foo] ==1.0; python_version>'3'", "pandas<2.5", "Scikit_Learn", "scikit-learn==1.9",
        "./local/pkg", "git+https://github.com/x/y.git", "./local/pkg",
    ])
    assert read(tmp_path / "requirements.txt").splitlines() == [
        "pandas<3,>=1.0,<2.5", 'numpy[foo]==1.0; python_version > "3"', "Scikit_Learn==1.9", "./local/pkg",
        "git+https://github.com/x/y.git",
    ]


def test_conflicting_pins_raise(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="incompatible"):
        env.write_environment(str(tmp_path), default_pip_requirements=["scikit-learn==1.1"],
                              extra_pip_requirements=["scikit-learn==1.2"])


def test_conda_env_dict_and_file(tmp_path: Path) -> None:
    conda = {"name": "x", "channels": ["defaults"], "dependencies": ["python=3.8.1", "pip", {"pip": ["mlflow", "scikit-learn"]}]}
    model = tmp_path / "m1"
    model.mkdir()
    env.write_environment(str(model), default_pip_requirements=["ignored"], conda_env=conda)
    assert read(model / "conda.yaml") == (
        "channels:\n- defaults\ndependencies:\n- python=3.8.1\n- pip\n- pip:\n  - mlflow\n  - scikit-learn\nname: x\n")
    assert read(model / "requirements.txt") == "mlflow\nscikit-learn"
    assert read(model / "python_env.yaml") == python_env_text()  # as MLflow: the running interpreter
    assert conda["dependencies"][-1] == {"pip": ["mlflow", "scikit-learn"]}  # the caller's dict is untouched

    folder = tmp_path / "envdir"
    folder.mkdir()
    (folder / "c.txt").write_text("numpy<3")
    (folder / "env.yaml").write_text(yaml.safe_dump({"name": "y", "dependencies": ["python=3.11", {"pip": ["pandas", "-c c.txt"]}]}))
    model2 = tmp_path / "m2"
    model2.mkdir()
    env.write_environment(str(model2), default_pip_requirements=[], conda_env=str(folder / "env.yaml"))
    assert read(model2 / "requirements.txt") == "pandas\n-c constraints.txt"
    assert read(model2 / "constraints.txt") == "numpy<3"
    assert yaml.safe_load(read(model2 / "conda.yaml"))["dependencies"] == [
        "python=3.11", {"pip": ["pandas", "-c constraints.txt"]}]


def test_conda_env_without_pip_section_gets_an_empty_one(tmp_path: Path) -> None:
    env.write_environment(str(tmp_path), default_pip_requirements=[], conda_env={"dependencies": ["python=3.10"]})
    assert read(tmp_path / "requirements.txt") == ""
    assert yaml.safe_load(read(tmp_path / "conda.yaml"))["dependencies"] == ["python=3.10", {"pip": []}]


def test_empty_pip_requirements(tmp_path: Path) -> None:
    env.write_environment(str(tmp_path), default_pip_requirements=[], pip_requirements=[])
    assert read(tmp_path / "requirements.txt") == ""
    assert read(tmp_path / "conda.yaml") == conda_text([])


@pytest.mark.parametrize("kwargs", [
    {"conda_env": {}, "pip_requirements": []},
    {"conda_env": {}, "extra_pip_requirements": []},
    {"pip_requirements": ["a"], "extra_pip_requirements": ["b"]},
    {"conda_env": "x.yaml", "pip_requirements": ["a"], "extra_pip_requirements": ["b"]},
])
def test_only_one_environment_argument(tmp_path: Path, kwargs: dict) -> None:
    message = "Only one of `conda_env`, `pip_requirements`, and `extra_pip_requirements` can be specified"
    with pytest.raises(MlflowException, match=message) as info:
        env.write_environment(str(tmp_path), default_pip_requirements=[], **kwargs)
    assert isinstance(info.value, ValueError) and info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"pip_requirements": 5}, "`pip_requirements` must be either a string path"),
    ({"pip_requirements": ["a", 1]}, "`pip_requirements` must be either a string path"),
    ({"extra_pip_requirements": {"a": 1}}, "`pip_requirements` must be either a string path"),
    ({"conda_env": 5}, "Expected a string path to a conda env yaml file or a `dict`"),
])
def test_wrong_argument_types(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(MlflowException, match=message) as info:
        env.write_environment(str(tmp_path), default_pip_requirements=[], **kwargs)
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("kwargs", [
    {"pip_requirements": "missing.txt"},
    {"pip_requirements": ["-r missing.txt"]},
    {"conda_env": "missing.yaml"},
])
def test_missing_files(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(InvalidParameterValue, match="missing"):
        env.write_environment(str(tmp_path), default_pip_requirements=[], **kwargs)


def test_mismatched_pins_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        env.write_environment(str(tmp_path), default_pip_requirements=[], pip_requirements=["pyyaml==0.0.1"])
    assert "pyyaml (current: " in caplog.text and "required: pyyaml==0.0.1" in caplog.text


# ---------------------------------------------------------------------------------------------------
# requirement strings


@pytest.mark.parametrize("text, expected", [
    ("pandas", "pandas"),
    ("pandas >= 1.0, <3", "pandas<3,>=1.0"),
    ("numpy[b,a] == 1.0", "numpy[a,b]==1.0"),
    ("x; python_version>'3' and (os_name=='nt' or  os_name == \"posix\")",
     'x; python_version > "3" and (os_name == "nt" or os_name == "posix")'),
    ("pkg @ https://example.com/pkg.whl ; python_version<'4'", 'pkg@ https://example.com/pkg.whl ; python_version < "4"'),
    ("a.b-c_d (>=1)", "a.b-c_d>=1"),
])
def test_requirement_formatting(text: str, expected: str) -> None:
    assert str(reqs.parse_requirement(text)) == expected


@pytest.mark.parametrize("text", ["./path/to/pkg", "git+https://github.com/a/b", "-e .", "pkg --hash=sha256:ab", "x==="])
def test_non_requirements_pass_through(text: str) -> None:
    assert reqs.parse_requirement(text) is None
    assert reqs.dedupe_requirements([text, text]) == [text]


@pytest.mark.parametrize("text, expected", [
    ("mlflow", True), ("mlflow==2.22.5", True), ("MLflow-Skinny>=2", True), ("mlflow_skinny", True),
    ("mlflow[gateway]==2.0", True), ("mlflow==2.0 --hash=sha256:abc", True),
    ("git+https://github.com/mlflow/mlflow@branch", True), ("mlflow @ git+https://x/y", True),
    ("mlflow-export-import", False), ("fluvial", False), ("pandas", False), ("./pkgs/other", False),
])
def test_is_mlflow_requirement(text: str, expected: bool) -> None:
    assert reqs.is_mlflow_requirement(text) is expected


def test_is_self_requirement() -> None:
    assert reqs.is_self_requirement("fluvial==0.1") and reqs.is_self_requirement("mlflow")
    assert not reqs.is_self_requirement("pandas")


def test_pinned_requirement_and_versions() -> None:
    assert env.pinned("pyyaml") == f"pyyaml=={installed_version('pyyaml')}"
    assert reqs.pinned_requirement("mlflow[gateway]", version="2.0") == "mlflow[gateway]==2.0"
    assert env.current_versions(["pyyaml", "surely-not-installed-pkg"]) == {
        "pyyaml": installed_version("pyyaml"), "surely-not-installed-pkg": None}
    with pytest.raises(MlflowException, match="not installed"):
        reqs.pinned_requirement("surely-not-installed-pkg")


# ---------------------------------------------------------------------------------------------------
# reading environments


def test_requirements_for_environment_of_an_mlflow_model(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "mlflow==2.22.5\ncloudpickle==3.1.3\nmlflow-skinny\nfluvial==0.1\nscikit-learn==1.9.1\n-r extra.txt\n-c constraints.txt")
    (tmp_path / "extra.txt").write_text("scipy\n")
    (tmp_path / "constraints.txt").write_text("numpy<3")
    assert env.requirements_for_environment(str(tmp_path)) == [
        "cloudpickle==3.1.3", "scikit-learn==1.9.1", "scipy", f"-c {tmp_path / 'constraints.txt'}"]


def test_requirements_for_environment_nested_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "requirements.txt").write_text("a\n-r sub/more.txt\nb  # comment\n")
    (tmp_path / "sub" / "more.txt").write_text("mlflow\nc\n-c pins.txt\n-r more.txt\n")
    (tmp_path / "sub" / "pins.txt").write_text("c<2")
    assert env.requirements_for_environment(str(tmp_path)) == ["a", "c", "b", f"-c {tmp_path / 'sub' / 'pins.txt'}"]


def test_requirements_for_environment_falls_back_to_conda(tmp_path: Path) -> None:
    assert env.requirements_for_environment(str(tmp_path)) == []
    (tmp_path / "conda.yaml").write_text(yaml.safe_dump({"dependencies": ["python=3.11", {"pip": ["mlflow", "pandas"]}]}))
    assert env.requirements_for_environment(str(tmp_path)) == ["pandas"]


def test_python_env_round_trip(tmp_path: Path) -> None:
    path = str(tmp_path / "python_env.yaml")
    env.write_python_env(path, {"python": "3.10.1", "build_dependencies": [], "dependencies": ["-r requirements.txt"]})
    assert read(Path(path)) == "python: 3.10.1\ndependencies:\n- -r requirements.txt\n"
    assert env.read_python_env(path) == {"python": "3.10.1", "build_dependencies": [], "dependencies": ["-r requirements.txt"]}
    Path(path).write_text("dependencies: [numpy]\n")
    assert env.read_python_env(path)["python"] == PY


@pytest.mark.parametrize("text, message", [
    ("python: 3.10\n", "`python` must be a string"),
    ("python: '3.10'\ndependencies: numpy\n", "`dependencies` must be a list"),
    ("python: '3.10'\nconda: x\n", "unexpected keys"),
    ("- a\n", "must hold a mapping"),
])
def test_read_python_env_rejects_bad_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "python_env.yaml").write_text(text)
    with pytest.raises(InvalidParameterValue, match=message):
        env.read_python_env(str(tmp_path / "python_env.yaml"))


def test_python_env_from_conda(caplog: pytest.LogCaptureFixture) -> None:
    conda = {"dependencies": ["python=3.8.13", "pip=22.0", "setuptools", "wheel>=0.3", "numpy", {"pip": ["x"]}]}
    with caplog.at_level(logging.WARNING):
        assert env.python_env_from_conda(conda) == {
            "python": "3.8.13", "build_dependencies": ["pip==22.0", "setuptools", "wheel>=0.3"], "dependencies": ["x"]}
    assert "numpy" in caplog.text
    with pytest.raises(InvalidParameterValue, match="must be pinned"):
        env.python_env_from_conda({"dependencies": ["python"]})
    with pytest.raises(InvalidParameterValue, match="Invalid version comparator for python: '<'"):
        env.python_env_from_conda({"dependencies": ["python<3.9"]})
    with pytest.raises(InvalidParameterValue, match="Invalid conda dependency"):
        env.python_env_from_conda({"dependencies": [5]})


def test_get_model_dependencies(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": {"env": {"conda": "conda.yaml"}}}}))
    (model / "conda.yaml").write_text(yaml.safe_dump({"dependencies": ["python=3.11", "numpy", {"pip": ["a==1", "b"]}]}))
    pip_file = env.get_model_dependencies(str(model))
    assert read(Path(pip_file)) == "a==1\nb\n"
    assert env.get_model_dependencies(str(model), format="conda") == str(model / "conda.yaml")
    (model / "requirements.txt").write_text("c")
    assert env.get_model_dependencies(str(model)) == str(model / "requirements.txt")
    with pytest.raises(InvalidParameterValue, match="Illegal format argument 'x'"):
        env.get_model_dependencies(str(model), format="x")
    os.remove(model / "requirements.txt")
    (model / "conda.yaml").write_text(yaml.safe_dump({"dependencies": ["python=3.11"]}))
    with pytest.raises(ResourceDoesNotExist, match="No pip section"):
        env.get_model_dependencies(str(model))


# ---------------------------------------------------------------------------------------------------
# markers, metadata, pruning


@pytest.mark.parametrize("marker, expected", [
    ('python_version >= "3.0"', True),
    ('python_version < "3.0"', False),
    ('python_version >= "3.10" and python_version < "4"', True),
    (f'sys_platform == "nonexistent" or os_name == "{os.name}"', True),
    ('(sys_platform == "a" or sys_platform == "b") and python_version > "2"', False),
    ('"linux" in sys_platform or "linux" not in sys_platform', True),
    ('python_full_version == "3.*"', True),
    ("platform_python_implementation == 'CPython'", True),
    ("garbage ((", True),
])
def test_marker_matches(marker: str, expected: bool) -> None:
    assert inf.marker_matches(marker) is expected


def fake_dist(root: Path, name: str, version: str, requires: list[str], modules: list[str]) -> None:
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"] + [f"Requires-Dist: {r}\n" for r in requires]
    (info / "METADATA").write_text("".join(lines))
    (info / "top_level.txt").write_text("".join(f"{m}\n" for m in modules))
    for module in modules:
        (root / module).mkdir(exist_ok=True)


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Installed (on sys.path) fake distributions: fakeapp requires fakelib; fakelib is pulled in only
    on Windows or for an extra by others; fakegpu has a local version label."""
    site = tmp_path / "site"
    fake_dist(site, "fakeapp", "2.0", ["fakelib>=1", 'winonly; sys_platform == "win32"', 'testdep; extra == "test"'], ["fakeapp"])
    fake_dist(site, "fakelib", "1.5", [], ["fakelib"])
    fake_dist(site, "winonly", "1.0", [], ["winonly"])
    fake_dist(site, "testdep", "1.0", [], ["testdep"])
    fake_dist(site, "Fake_GPU", "2.1.0+cu118", ["numpy"], ["fakegpu"])
    (site / "fakelib" / "__init__.py").write_text("")
    (site / "fakeapp" / "__init__.py").write_text("import fakelib\n")
    (site / "fakegpu" / "__init__.py").write_text("import json\n")
    (site / "winonly" / "__init__.py").write_text("")
    (site / "testdep" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_requires_and_pruning(fake_site: Path) -> None:
    assert inf.requires("fakeapp") == ["fakelib"]  # the win32 marker and the extra are skipped
    assert inf.prune_packages(["fakeapp", "fakelib", "winonly", "testdep"]) == {"fakeapp", "winonly", "testdep"}
    assert inf.prune_packages(["scikit-learn", "joblib", "threadpoolctl", "numpy", "scipy"]) == {"scikit-learn", "numpy", "scipy"}
    assert inf.modules_to_packages(["fakegpu", "fakeapp", "json", "nope"]) == {"fake-gpu", "fakeapp"}


def test_requirements_from_modules(fake_site: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        result = inf.requirements_from_modules(
            ["fakeapp", "fakelib", "fakegpu", "yaml", "fluvial", "mlflow", "setuptools", "json", "_private", "numpy"])
    assert result == ["fake-gpu==2.1.0", "fakeapp==2.0", f"numpy=={installed_version('numpy')}"]
    assert "local version label" in caplog.text and "2.1.0+cu118" in caplog.text


# ---------------------------------------------------------------------------------------------------
# inference through the subprocess


LOADERS = '''
import os, pickle, time

def sklearn(model_dir):
    with open(os.path.join(model_dir, "model.pkl"), "rb") as f:
        return pickle.load(f)

def fake(model_dir):
    import fakeapp, fakegpu
    return None

def nothing(model_dir):
    import json
    return None

def boom(model_dir):
    raise RuntimeError("this model cannot be loaded")

def slow(model_dir):
    time.sleep(60)

class _BadPredict:
    def predict(self, data):
        import fakeapp
        raise ValueError("predict failed on purpose")

def bad_predict(model_dir):
    import fakelib
    return _BadPredict()
'''


@pytest.fixture
def loaders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    folder = tmp_path / "loaders"
    folder.mkdir()
    (folder / "stub_loaders.py").write_text(textwrap.dedent(LOADERS))
    monkeypatch.syspath_prepend(str(folder))
    return "stub_loaders"


@pytest.fixture
def sklearn_model_dir(tmp_path: Path) -> Path:
    """A tiny model directory: a pickled estimator, an MLmodel with an input example."""
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    linear_model = pytest.importorskip("sklearn.linear_model")
    from fluvial.models.input_example import save_input_example

    model = tmp_path / "model"
    model.mkdir()
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 2.0, 1.0, 2.0]})
    est = linear_model.LogisticRegression().fit(X.to_numpy(), np.array([0, 1, 0, 1]))
    with open(model / "model.pkl", "wb") as f:
        pickle.dump(est, f)
    info = save_input_example(str(model), X.head(2).to_numpy())
    (model / "MLmodel").write_text(yaml.safe_dump({"flavors": {}, "saved_input_example_info": info}))
    return model


def test_infer_requirements_of_a_pickled_estimator(sklearn_model_dir: Path, loaders: str) -> None:
    started = time.perf_counter()
    result = inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:sklearn"], fallback=["fallback"])
    elapsed = time.perf_counter() - started
    names = [r.split("==")[0] for r in result]
    assert {"scikit-learn", "numpy", "scipy"} <= set(names), result
    assert not {"joblib", "threadpoolctl", "fluvial", "mlflow", "setuptools", "pyyaml"} & set(names)
    assert result == sorted(result) and all("==" in r for r in result)
    assert f"scikit-learn=={installed_version('scikit-learn')}" in result
    print(f"\nrequirement inference of a scikit-learn model: {elapsed:.2f}s -> {result}")


def test_infer_with_fake_packages(fake_site: Path, sklearn_model_dir: Path, loaders: str, tmp_path: Path) -> None:
    numpy = f"numpy=={installed_version('numpy')}"  # reading the ndarray input example imports numpy
    assert inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:fake"]) == ["fake-gpu==2.1.0", "fakeapp==2.0", numpy]
    assert inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:nothing"]) == [numpy]
    bare = tmp_path / "bare"  # no MLmodel, no example: only what the loader imports
    bare.mkdir()
    assert inf.infer_pip_requirements(str(bare), [f"{loaders}:nothing"]) == []
    assert inf.infer_pip_requirements(str(bare), [f"{loaders}:fake", f"{loaders}:nothing"]) == ["fake-gpu==2.1.0", "fakeapp==2.0"]


def test_inference_failure_falls_back_with_a_warning(sklearn_model_dir: Path, loaders: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:boom"], fallback=["a==1"]) == ["a==1"]
    assert "falling back to ['a==1']" in caplog.text and "this model cannot be loaded" in caplog.text
    with pytest.raises(MlflowException, match="this model cannot be loaded"):
        inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:boom"])  # no fallback: raise


def test_raise_errors_env(sklearn_model_dir: Path, loaders: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS", "true")
    with pytest.raises(MlflowException, match="this model cannot be loaded"):
        inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:boom"], fallback=["a==1"])


def test_predict_failure_is_a_warning(fake_site: Path, sklearn_model_dir: Path, loaders: str,
                                      caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    with caplog.at_level(logging.WARNING):
        result = inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:bad_predict"], fallback=[])
    # fakeapp was imported by predict before it failed; fakelib is pruned; numpy read the example
    assert result == ["fakeapp==2.0", f"numpy=={installed_version('numpy')}"]
    assert "Failed to run predict on input_example" in caplog.text and "predict failed on purpose" in caplog.text
    monkeypatch.setenv("MLFLOW_REQUIREMENTS_INFERENCE_RAISE_ERRORS", "true")
    with pytest.raises(MlflowException, match="predict failed on purpose"):
        inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:bad_predict"], fallback=[])


def test_timeout(sklearn_model_dir: Path, loaders: str, monkeypatch: pytest.MonkeyPatch,
                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT", "1")
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        assert inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:slow"], fallback=["x"]) == ["x"]
    assert time.perf_counter() - started < 30
    assert "timed out after 1 seconds" in caplog.text
    monkeypatch.setenv("MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT", "soon")
    with pytest.raises(InvalidParameterValue, match="must be a number of seconds"):
        inf.infer_pip_requirements(str(sklearn_model_dir), [f"{loaders}:slow"], fallback=["x"])


def test_no_recursion_inside_the_capture_process(sklearn_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_MLFLOW_IN_CAPTURE_MODULE_PROCESS", "true")
    assert inf.infer_pip_requirements(str(sklearn_model_dir), fallback=["only-this"]) == ["only-this"]


def test_missing_model_directory_falls_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert inf.infer_pip_requirements(str(tmp_path / "nope"), fallback=["f"]) == ["f"]


def test_default_loader_on_a_fluvial_sklearn_model(tmp_path: Path) -> None:
    """Through ``fluvial.pyfunc.load_model`` (the default loader) and the input-example predict."""
    pd = pytest.importorskip("pandas")
    linear_model = pytest.importorskip("sklearn.linear_model")
    fsk = pytest.importorskip("fluvial.sklearn")
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 2.0, 1.0, 2.0]})
    est = linear_model.LogisticRegression().fit(X, [0, 1, 0, 1])
    path = str(tmp_path / "model")
    fsk.save_model(est, path, input_example=X.head(2), pip_requirements=["scikit-learn"])
    started = time.perf_counter()
    result = inf.infer_pip_requirements(path, "sklearn")
    print(f"\ninference through fluvial.pyfunc.load_model: {time.perf_counter() - started:.2f}s -> {result}")
    names = {r.split("==")[0] for r in result}
    assert {"scikit-learn", "numpy", "scipy", "pandas"} <= names
    assert not {"fluvial", "mlflow", "pyyaml", "setuptools", "joblib"} & names
