"""``fluvial models generate-dockerfile`` / ``build-docker``: a Docker build context that serves a model.

The context holds a ``Dockerfile``, fluvial's wheel under ``dist/`` (built from the running fluvial, or
with ``pip wheel`` from a checkout given as ``--mlflow-home``), the model's requirements (mlflow lines
dropped) as ``requirements.txt`` and the model under ``model_dir/<name>``. The image starts from
``python:<the model's Python version>-slim``, installs fluvial with its serving extras and the model's
requirements with one pip run, and its entrypoint is ``fluvial models serve`` on ``0.0.0.0:8080``
(``/ping``, ``/health``, ``/version``, ``/invocations``) straight from uvicorn, without nginx. Settings come
from environment variables the command reads: ``MLFLOW_PORT`` (8080), ``MLFLOW_MODELS_WORKERS``
(``auto``: one per CPU the container may use), ``MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT``.

Every path the Dockerfile uses inside the image is under its ``WORKDIR`` (``/opt/fluvial``) and holds the
context's file of the same relative path, or is the model directory ``/opt/ml/model``.

Without a model the image installs fluvial only; at start it installs the requirements of the model
mounted at ``/opt/ml/model`` (``python -m fluvial.scoring.docker install-requirements``) and serves it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from fluvial.environments.base import Report, report_to_stderr, run_step
from fluvial.exceptions import MlflowException

DEFAULT_OUTPUT_DIR = "mlflow-dockerfile"
DEFAULT_IMAGE_NAME = "mlflow-pyfunc-servable"
WORKDIR = "/opt/fluvial"
MODEL_DIR = "/opt/ml/model"
PORT = 8080
SERVE_ENV = {"MLFLOW_HOST": "0.0.0.0", "MLFLOW_PORT": str(PORT), "MLFLOW_MODELS_WORKERS": "auto"}
SERVE_COMMAND = ["fluvial", "models", "serve", "-m", MODEL_DIR, "--env-manager", "local"]
MIN_PYTHON = (3, 10)
USER = "1000:1000"  # the server's (numeric: the base image needs no useradd)
EXTRA_SITE = f"{WORKDIR}/site"  # image without a model: the mounted model's requirements (on PYTHONPATH)


class DockerUnavailable(MlflowException):
    """No docker client, or no engine it can reach."""


@dataclass(frozen=True)
class DockerContext:
    directory: Path
    dockerfile: Path
    base_image: str
    wheel: Path
    model_name: str | None  # the model's folder under model_dir/, None for an image without a model


def _image_python(model_dir: str | None, report: Report) -> str:
    """X.Y.Z for ``python:X.Y.Z-slim``: the model's Python version (this interpreter's without a model
    or when the model's is older than fluvial supports)."""
    current = "{}.{}.{}".format(*sys.version_info[:3])
    if model_dir is None:
        return current
    from fluvial.environments.builder import model_env_spec

    wanted = model_env_spec(model_dir).python
    parts = tuple(int(p) for p in wanted.split(".")[:3] if p.isdigit())
    if len(parts) < 2:
        return current
    if parts[:2] < MIN_PYTHON:
        report(f"fluvial: the model was saved with Python {wanted}, older than fluvial supports "
               f"({'.'.join(map(str, MIN_PYTHON))}+); the image uses Python {current}")
        return current
    return ".".join(map(str, parts))


def _fluvial_wheel(dist_dir: Path, fluvial_home: str | None, report: Report) -> Path:
    from fluvial.environments.distribution import build_wheel, fluvial_source

    if fluvial_home is None:
        return build_wheel(dist_dir)
    source = fluvial_source(fluvial_home)  # checks that it is a fluvial tree
    run_step([sys.executable, "-m", "pip", "wheel", "--no-deps", "--progress-bar", "off", "-w", str(dist_dir),
              str(source.project_dir)], f"building fluvial's wheel from {fluvial_home}", report=report)
    wheels = sorted(dist_dir.glob("fluvial-*.whl"))
    if not wheels:
        raise MlflowException(f"pip wheel produced no fluvial wheel in {dist_dir}")
    return wheels[-1]


def _requirements(context: Path, model_dir: str) -> list[str]:
    """Write ``requirements.txt`` (and copied constraint files) into the context; their file names."""
    from fluvial.models.environment import requirements_for_environment

    lines, written = [], ["requirements.txt"]
    for line in requirements_for_environment(model_dir):
        head, _, rest = line.partition(" ")
        if head in ("-c", "--constraint") and rest.strip():
            name = f"constraints-{len(written) - 1}.txt"
            shutil.copyfile(rest.strip(), context / name)
            written.append(name)
            lines.append(f"-c {WORKDIR}/{name}")
        else:
            lines.append(line)
    (context / "requirements.txt").write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return written


def _dockerfile(base_image: str, wheel_name: str, requirement_files: list[str], model_name: str | None,
                offline: bool = False) -> str:
    from fluvial.version import VERSION

    install = f'"fluvial[server,data] @ file://{WORKDIR}/dist/{wheel_name}"'
    if offline:  # every wheel comes from the context's wheelhouse/; no index is asked
        install = f"--no-index --find-links {WORKDIR}/wheelhouse " + install
    lines = [
        f"# Generated by fluvial {VERSION} (fluvial models generate-dockerfile).",
        "# Serves " + ("the model in model_dir/" + model_name if model_name else f"a model mounted at {MODEL_DIR}")
        + f" on port {PORT}: POST /invocations, GET /ping, /health, /version.",
        f"FROM {base_image}",
        "",
        "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
        f"WORKDIR {WORKDIR}",
        "",
    ]
    if offline:
        lines += [f"COPY wheelhouse/ {WORKDIR}/wheelhouse/", ""]
    if model_name:
        copies = " ".join(requirement_files)
        lines += [
            "# fluvial (with its serving extras) and the model's requirements, resolved together",
            f"COPY dist/ {WORKDIR}/dist/",
            f"COPY {copies} {WORKDIR}/",
            f"RUN pip install {install} -r {WORKDIR}/requirements.txt",
            "",
            f"COPY model_dir/{model_name} {MODEL_DIR}",
        ]
        entrypoint = SERVE_COMMAND
    else:
        lines += [
            "# fluvial with its serving extras; the model and its requirements come at start",
            f"COPY dist/ {WORKDIR}/dist/",
            f"RUN pip install {install}",
            "# the mounted model's requirements go here at start (the server runs as a non-root user)",
            f"RUN mkdir -p {EXTRA_SITE} && chown {USER} {EXTRA_SITE}",
            f"ENV PYTHONPATH={EXTRA_SITE} FLUVIAL_REQUIREMENTS_TARGET={EXTRA_SITE}",
        ]
        entrypoint = ["sh", "-c", f"python -m fluvial.scoring.docker install-requirements {MODEL_DIR} && exec "
                      + " ".join(SERVE_COMMAND)]
    lines += [
        "",
        "ENV " + " ".join(f"{k}={v}" for k, v in SERVE_ENV.items()),
        f"USER {USER}",
        f"EXPOSE {PORT}",
        f"ENTRYPOINT {json.dumps(entrypoint)}",
        "",
    ]
    return "\n".join(lines)


def _copy_wheelhouse(wheelhouse: str, context: Path) -> None:
    source = Path(wheelhouse)
    wheels = sorted(source.glob("*.whl")) if source.is_dir() else []
    if not wheels:
        raise MlflowException(f"--wheelhouse {wheelhouse}: no such directory of wheels (*.whl). Fill it with "
                              "`pip download -d DIR -r requirements.txt 'fluvial[server,data]'` for the image's "
                              "Python and platform.", error_code="INVALID_PARAMETER_VALUE")
    target = context / "wheelhouse"
    target.mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, target / wheel.name)


def generate_context(output_dir: str | os.PathLike[str], model_dir: str | None = None, *,
                     fluvial_home: str | None = None, base_image: str | None = None,
                     wheelhouse: str | None = None, report: Report = report_to_stderr) -> DockerContext:
    """Write the build context into ``output_dir`` (created; an earlier context there is replaced).

    ``base_image`` replaces ``python:<model's version>-slim``; it needs a shell and one Python >= 3.10
    with pip on PATH. With ``wheelhouse`` (a directory of wheels for the image's Python and platform)
    pip installs with ``--no-index`` from it: the build needs no package index."""
    context = Path(output_dir).resolve()
    context.mkdir(parents=True, exist_ok=True)
    for stale in ("dist", "model_dir", "wheelhouse"):
        shutil.rmtree(context / stale, ignore_errors=True)
    for old in context.glob("constraints-*.txt"):
        old.unlink()
    if wheelhouse is not None:
        _copy_wheelhouse(wheelhouse, context)
    wheel = _fluvial_wheel(context / "dist", fluvial_home, report)
    if not base_image:
        base_image = f"python:{_image_python(model_dir, report)}-slim"
    model_name = None
    requirement_files: list[str] = []
    if model_dir is not None:
        model_name = os.path.basename(os.path.normpath(model_dir)) or "model"
        shutil.copytree(model_dir, context / "model_dir" / model_name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        requirement_files = _requirements(context, model_dir)
    else:
        (context / "requirements.txt").unlink(missing_ok=True)
    dockerfile = context / "Dockerfile"
    dockerfile.write_text(_dockerfile(base_image, wheel.name, requirement_files, model_name,
                                              wheelhouse is not None), encoding="utf-8")
    return DockerContext(context, dockerfile, base_image, wheel, model_name)


# ---- docker ------------------------------------------------------------------------------------------


def check_engine(engine: str | None = None) -> str:
    """The container engine's command (docker or podman) once it answers ``version``; DockerUnavailable
    otherwise. ``engine`` (or $FLUVIAL_CONTAINER_ENGINE): docker or podman; default: the first that answers
    (:mod:`fluvial.environments.container_engine`)."""
    from fluvial.environments.container_engine import probe_engine

    probe = probe_engine(engine)
    if probe.path is not None:
        return probe.path
    raise DockerUnavailable(
        "No container engine is reachable: " + "; ".join(probe.failures) + ". Start the Docker daemon or point "
        "DOCKER_HOST at one (or install podman), or write the build context with `fluvial models "
        "generate-dockerfile -d DIR` and build it where Docker runs."
    )


def build_image(docker: str, context: DockerContext, name: str, report: Report = report_to_stderr,
                network: str | None = None) -> None:
    args = [docker, "build", "-t", name] + (["--network", network] if network else []) + [str(context.directory)]
    run_step(args, f"{os.path.basename(docker)} build -t {name} {context.directory}", report=report)


def build_docker(model_uri: str | None = None, name: str = "mlflow-pyfunc", env_manager: str = "virtualenv",
                 mlflow_home: str | None = None, install_java: bool = False, install_mlflow: bool = False,
                 enable_mlserver: bool = False, base_image: str | None = None, *, engine: str | None = None,
                 wheelhouse: str | None = None, network: str | None = None) -> None:
    """``mlflow.models.build_docker``: build an image named ``name`` that serves ``model_uri`` (or, without
    one, a model mounted at /opt/ml/model) on port 8080 with fluvial's scoring server."""
    import tempfile

    if enable_mlserver:
        raise MlflowException("enable_mlserver=True is not supported: fluvial images serve models with fluvial's "
                              "own server (MLflow's scoring protocol on /invocations).",
                              error_code="INVALID_PARAMETER_VALUE")
    if install_java:
        report_to_stderr("fluvial: install_java does not apply: fluvial's scoring server needs no Java "
                         "(as `models build-docker --install-java` says)")
    if install_mlflow:
        report_to_stderr("fluvial: install_mlflow does not apply: the image gets fluvial, which serves the model")
    if (env_manager or "virtualenv").lower() == "conda":
        raise MlflowException("env_manager='conda' is not supported for images: the image installs the model's pip "
                              "requirements into its Python.", error_code="INVALID_PARAMETER_VALUE")
    docker = check_engine(engine)  # before any work: no engine, no build
    workdir = tempfile.mkdtemp(prefix="fluvial-docker-")
    try:
        model_dir = None
        if model_uri:
            from fluvial.models.uri import download_model

            model_dir = download_model(model_uri)
        context = generate_context(workdir, model_dir, fluvial_home=mlflow_home, base_image=base_image,
                                   wheelhouse=wheelhouse)
        build_image(docker, context, name, network=network)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---- container start (image without a model) ---------------------------------------------------------


def install_model_requirements(model_dir: str, report: Report = report_to_stderr) -> None:
    """pip-install the requirements of the model in ``model_dir`` into this interpreter."""
    import tempfile

    from fluvial.models.environment import requirements_for_environment

    lines = requirements_for_environment(model_dir)
    if not lines:
        report(f"fluvial: the model in {model_dir} lists no requirements")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(lines) + "\n")
    try:
        target = os.environ.get("FLUVIAL_REQUIREMENTS_TARGET")  # the image's writable site dir
        run_step([sys.executable, "-m", "pip", "install", "--progress-bar", "off", "-r", fh.name]
                 + (["--target", target] if target else []),
                 "installing the model's requirements", report=report)
    finally:
        os.unlink(fh.name)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "install-requirements":
        print("usage: python -m fluvial.scoring.docker install-requirements MODEL_DIR", file=sys.stderr)
        return 2
    try:
        install_model_requirements(args[1])
    except MlflowException as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - the container entrypoint
    sys.exit(main())


__all__ = ["DEFAULT_IMAGE_NAME", "DEFAULT_OUTPUT_DIR", "DockerContext", "DockerUnavailable", "build_docker", "build_image",
           "check_engine", "generate_context", "install_model_requirements"]
