"""``fluvial models ...``: serve, predict, prepare-env, update-pip-requirements, generate-dockerfile,
build-docker (MLflow 2.22.5's commands and options).

Commands are thin: the work is in ``fluvial.scoring`` (serving, predicting, Docker contexts) and
``fluvial.environments`` (environment managers). With a non-local ``--env-manager`` the model is
downloaded here, its environment built (or reused), and the same command runs again inside that
environment with ``--env-manager local``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from fluvial.cli._common import echo_progress, fail

ENV_MANAGER_CHOICES = ("local", "virtualenv", "conda", "uv")
_ENV_MANAGER_HELP = (
    "Where the model runs: local (this interpreter as it is), virtualenv (a cached virtual environment with the "
    "model's Python version and requirements; uses uv when installed), uv, or conda."
)


def _model_uri(required: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("-m", "--model-uri", "model_uri", metavar="URI", required=required,
                        help="The model: a local path, runs:/<run_id>/<path>, models:/<name>/<version|stage|alias>, "
                             "or any artifact URI.")


def _env_manager(default_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--env-manager", type=click.Choice(ENV_MANAGER_CHOICES, case_sensitive=False), default=None,
                        help=f"{_ENV_MANAGER_HELP} Default: {default_text}.")


_install_mlflow = click.option("--install-mlflow", is_flag=True, default=False,
                               help="Accepted for MLflow compatibility; does not apply (fluvial installs itself into "
                                    "the environments it builds).")
_enable_mlserver = click.option("--enable-mlserver", is_flag=True, default=False,
                                help="Not supported: fluvial serves models with its own server.")


def _notes(install_mlflow: bool = False, enable_mlserver: bool = False) -> None:
    if enable_mlserver:
        fail("--enable-mlserver is not supported: fluvial serves models with its own server (MLflow's scoring "
             "protocol on /invocations). Drop the option.")
    if install_mlflow:
        echo_progress("Note: --install-mlflow does not apply to fluvial: the environments it builds get fluvial "
                      "itself, which serves and predicts; MLflow is not needed. Ignored.")


def _resolve_env_manager(env_manager: str | None, no_conda: bool = False, default: str = "virtualenv") -> str:
    if no_conda:
        if env_manager is not None and env_manager.lower() != "local":
            raise click.UsageError("--no-conda and --env-manager cannot be used together; --no-conda means "
                                   "--env-manager local.")
        echo_progress("Note: --no-conda is deprecated; use --env-manager local.")
        return "local"
    return (env_manager or default).lower()


def _download(model_uri: str) -> str:
    from fluvial.models.uri import download_model

    return download_model(model_uri)


def _prepare(env_manager: str, model_dir: str, overrides: list[str] | None = None) -> Any:
    from fluvial.environments import get_env_manager

    return get_env_manager(env_manager).prepare(model_dir, pip_requirements_override=overrides)


@click.group("models")
def commands() -> None:
    """Deploy models: serve them over REST, predict from files, build Docker images.

    To use a model of a run or the registry on a tracking server, set MLFLOW_TRACKING_URI.
    """


# ---- serve --------------------------------------------------------------------------------------------


@commands.command(help="""Serve a model over REST: POST /invocations (MLflow's scoring protocol: JSON with
dataframe_split, dataframe_records, instances or inputs, or CSV), GET /ping, /health and /version.

\b
  fluvial models serve -m runs:/<run_id>/model -p 5001 --env-manager local
  curl -X POST 127.0.0.1:5001/invocations -H 'Content-Type: application/json' \\
       -d '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}'
""")
@_model_uri()
@click.option("-p", "--port", envvar="MLFLOW_PORT", default=5000, show_default=True, type=int,
              help="Port to listen on.")
@click.option("-h", "--host", envvar="MLFLOW_HOST", default="127.0.0.1", show_default=True, metavar="HOST",
              help="Address to listen on; 0.0.0.0 listens on every interface.")
@click.option("-t", "--timeout", envvar="MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", default=60, show_default=True,
              type=int, help="Seconds a request may take; longer ones are answered 504.")
@click.option("-w", "--workers", envvar="MLFLOW_MODELS_WORKERS", default="1", show_default=True,
              help="Worker processes, or 'auto' for one per available CPU.")
@_env_manager("virtualenv")
@click.option("--no-conda", is_flag=True, default=False, help="Deprecated: the same as --env-manager local.")
@_install_mlflow
@_enable_mlserver
@click.option("--batching/--no-batching", envvar="FLUVIAL_SCORING_BATCHING", default=False, show_default=True,
              help="Adaptive batching: requests with the same columns that arrive while the model is busy are "
                   "predicted together (dataframe_split / dataframe_records payloads without params).")
@click.option("--max-batch-rows", default=256, show_default=True, type=click.IntRange(min=1),
              help="With --batching: most rows predicted together.")
@click.option("--max-batch-wait-ms", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="With --batching: longest wait for more requests once a batch has started.")
@click.option("--allowed-hosts", multiple=True,
              help="Host header values accepted (comma-separated or repeated; '*' for any). Default: localhost, "
                   "127.0.0.1 and the --host address; any when listening on 0.0.0.0.")
def serve(model_uri: str, port: int, host: str, timeout: int, workers: str, env_manager: str | None, no_conda: bool,
          install_mlflow: bool, enable_mlserver: bool, batching: bool, max_batch_rows: int, max_batch_wait_ms: float,
          allowed_hosts: tuple[str, ...]) -> None:
    from fluvial.scoring.batching import BatchConfig
    from fluvial.scoring.serve import ServeOptions, default_allowed_hosts, parse_workers

    _notes(install_mlflow, enable_mlserver)
    manager = _resolve_env_manager(env_manager, no_conda)
    worker_count = parse_workers(workers)
    if timeout <= 0:
        fail("--timeout must be a positive number of seconds.")
    hosts = tuple(h.strip() for value in allowed_hosts for h in value.split(",") if h.strip())
    model_dir = _download(model_uri)
    if manager != "local":
        env = _prepare(manager, model_dir)
        argv = env.fluvial_command("models", "serve", "-m", model_dir, "--env-manager", "local", "-h", host,
                                   "-p", str(port), "-t", str(timeout), "-w", str(worker_count),
                                   "--batching" if batching else "--no-batching", "--max-batch-rows",
                                   str(max_batch_rows), "--max-batch-wait-ms", str(max_batch_wait_ms),
                                   *(arg for h in hosts for arg in ("--allowed-hosts", h)))
        env.exec(argv)
    if not hosts:
        hosts = default_allowed_hosts(host)
        if hosts == ("*",):
            echo_progress(f"Note: listening on all interfaces ({host}) with any Host header accepted; restrict it "
                          "with --allowed-hosts.")
    options = ServeOptions(host=host, port=port, workers=worker_count, timeout=float(timeout),
                           batching=BatchConfig(max_batch_rows, max_batch_wait_ms) if batching else None,
                           allowed_hosts=hosts)
    from fluvial.scoring.serve import load_for_serving, serve_model

    model = load_for_serving(model_dir)

    def ready(url: str) -> None:
        mode = f", batching up to {max_batch_rows} rows / {max_batch_wait_ms:g} ms" if batching else ""
        echo_progress(f"fluvial models serve: {url} ({worker_count} worker{'s' if worker_count != 1 else ''}"
                      f"{mode}); model {model_uri}")
        sys.stderr.flush()

    try:
        serve_model(model_dir, options, on_ready=ready, model=model)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Choose another --port or stop the process "
             "using it.")


# ---- predict ------------------------------------------------------------------------------------------


@commands.command(help="""Predict with a model from a file or stdin, writing {"predictions": ...} JSON to a
file or stdout. The input is a scoring payload as /invocations takes it: JSON (dataframe_split,
dataframe_records, instances or inputs, optionally params) or CSV with a header row.""")
@_model_uri()
@click.option("-i", "--input-path", default=None, help="Input file (default: stdin).")
@click.option("-o", "--output-path", default=None, help="Output file (default: stdout).")
@click.option("-t", "--content-type", default="json", show_default=True, help="Input format: json or csv.")
@_env_manager("virtualenv")
@_install_mlflow
@click.option("-r", "--pip-requirements-override", default=None,
              help="Requirements installed over the model's, comma-separated, e.g. 'scikit-learn==1.5.0,numpy<2' "
                   "(not with --env-manager local).")
@click.option("--env", "env_pairs", multiple=True, metavar="KEY=VALUE",
              help="Environment variable set while the model loads and predicts (repeatable).")
def predict(model_uri: str, input_path: str | None, output_path: str | None, content_type: str,
            env_manager: str | None, install_mlflow: bool, pip_requirements_override: str | None,
            env_pairs: tuple[str, ...]) -> None:
    import os

    from fluvial.cli._common import comma_list
    from fluvial.scoring.predict import normalize_content_type, parse_env_pairs, predict_local

    _notes(install_mlflow)
    manager = _resolve_env_manager(env_manager)
    kind = normalize_content_type(content_type)
    extra_env = parse_env_pairs(env_pairs)
    overrides = comma_list(pip_requirements_override)
    if input_path not in (None, "-") and not os.path.isfile(input_path):  # type: ignore[arg-type]
        fail(f"No such input file: {input_path}")
    model_dir = _download(model_uri)
    if manager == "local":
        if overrides:
            _prepare("local", model_dir, overrides)  # raises the clear error
        predict_local(model_dir, input_path, output_path, kind, extra_env)
        return
    env = _prepare(manager, model_dir, overrides)
    argv = env.fluvial_command("models", "predict", "-m", model_dir, "-t", kind, "--env-manager", "local")
    if input_path not in (None, "-"):
        argv += ["-i", os.path.abspath(input_path)]  # type: ignore[type-var]
    if output_path not in (None, "-"):
        argv += ["-o", os.path.abspath(output_path)]  # type: ignore[type-var]
    sys.stdout.flush()
    code = env.run(argv, extra_env=extra_env)
    if code != 0:
        sys.exit(code)


# ---- prepare-env --------------------------------------------------------------------------------------


@commands.command("prepare-env", help="""Build (or find) the environment a model runs in, so that a later
serve or predict with the same --env-manager starts at once. Prints the environment's directory.""")
@_model_uri()
@_env_manager("virtualenv")
@_install_mlflow
def prepare_env(model_uri: str, env_manager: str | None, install_mlflow: bool) -> None:
    _notes(install_mlflow)
    manager = _resolve_env_manager(env_manager)
    model_dir = _download(model_uri)
    env = _prepare(manager, model_dir)
    if env.root is None:
        echo_progress("Nothing to prepare: --env-manager local runs the model with this interpreter.")
        return
    click.echo(env.root)


# ---- update-pip-requirements --------------------------------------------------------------------------


@commands.command("update-pip-requirements", help="""Add or remove requirements of a model saved in a local
directory, in its requirements.txt and conda.yaml.

\b
  fluvial models update-pip-requirements -m ./model add "scikit-learn==1.5.0" "pandas<3"
  fluvial models update-pip-requirements -m ./model remove pandas
""")
@_model_uri()
@click.argument("operation", type=click.Choice(["add", "remove"]))
@click.argument("requirement_strings", nargs=-1)
def update_pip_requirements(model_uri: str, operation: str, requirement_strings: tuple[str, ...]) -> None:
    import os

    from fluvial._internal.uri import local_path, scheme_of
    from fluvial.environments.update import update_model_requirements

    if scheme_of(model_uri) not in ("", "file"):
        fail(f"update-pip-requirements changes a model's files in place and works on local model directories; "
             f"{model_uri!r} is not one. Download the model (fluvial artifacts download), update it, and log it again.")
    model_dir = os.path.abspath(local_path(model_uri))
    if not os.path.isdir(model_dir):
        fail(f"No model directory at {model_uri}.")
    old, new = update_model_requirements(model_dir, operation, list(requirement_strings))
    echo_progress(f"Old requirements: {old}")
    echo_progress(f"Updated requirements: {new}")
    echo_progress(f"Successfully updated the requirements for the model at {model_uri}!")


# ---- Docker -------------------------------------------------------------------------------------------


def _docker_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        _env_manager("local (the image itself is the model's environment)"),
        click.option("--mlflow-home", type=click.Path(exists=True, file_okay=False), default=None,
                     help="A fluvial source checkout to install in the image (default: the running fluvial)."),
        click.option("--install-java", type=bool, default=None,
                     help="Accepted for MLflow compatibility; ignored (fluvial's server needs no Java)."),
        _install_mlflow,
        _enable_mlserver,
        click.option("--base-image", default=None, metavar="IMAGE",
                     help="Image to build FROM (default: python:<the model's Python version>-slim). It needs a "
                          "shell and one Python >= 3.10 with pip on PATH."),
        click.option("--wheelhouse", type=click.Path(exists=True, file_okay=False), default=None,
                     help="A directory of wheels (fluvial's dependencies and the model's requirements, for the "
                          "image's Python): pip installs from it with --no-index, so the build needs no index."),
    ]):
        f = option(f)
    return f


def _docker_context(model_uri: str | None, output_dir: str, env_manager: str | None, mlflow_home: str | None,
                    install_java: bool | None, install_mlflow: bool, enable_mlserver: bool,
                    base_image: str | None, wheelhouse: str | None) -> Any:
    from fluvial.scoring.docker import generate_context

    _notes(install_mlflow, enable_mlserver)
    manager = (env_manager or "local").lower()
    if manager == "conda":
        fail("--env-manager conda is not supported for Docker images: the image starts from python:<version>-slim "
             "and installs the model's pip requirements. Use --env-manager local (the default).")
    if manager != "local":
        echo_progress(f"Note: with --env-manager {manager} the image itself is the model's environment (its Python "
                      "is the model's version); no virtual environment is made inside it.")
    if install_java:
        echo_progress("Note: --install-java is ignored: fluvial's scoring server needs no Java.")
    model_dir = _download(model_uri) if model_uri else None
    return generate_context(output_dir, model_dir, fluvial_home=mlflow_home, base_image=base_image,
                            wheelhouse=wheelhouse)


@commands.command("generate-dockerfile", help="""Write a Docker build context (Dockerfile, fluvial's wheel,
the model and its requirements) for an image that serves the model on port 8080 (POST /invocations,
GET /ping). Without -m the image serves a model mounted at /opt/ml/model, installing its requirements
at start.""")
@_model_uri(required=False)
@click.option("-d", "--output-directory", default="mlflow-dockerfile", show_default=True,
              help="Directory to write the build context to.")
@_docker_options
def generate_dockerfile(model_uri: str | None, output_directory: str, env_manager: str | None,
                        mlflow_home: str | None, install_java: bool | None, install_mlflow: bool,
                        enable_mlserver: bool, base_image: str | None, wheelhouse: str | None) -> None:
    context = _docker_context(model_uri, output_directory, env_manager, mlflow_home, install_java, install_mlflow,
                              enable_mlserver, base_image, wheelhouse)
    echo_progress(f"Generated Dockerfile in {context.directory} (base image {context.base_image}). Build it with: "
                  f"docker build -t mlflow-pyfunc-servable {context.directory}")


@commands.command("build-docker", help="""Build a Docker image that serves the model on port 8080, then run
it with e.g. `docker run -p 5001:8080 mlflow-pyfunc-servable`. Needs a reachable Docker engine; the
build context is the one generate-dockerfile writes.""")
@_model_uri(required=False)
@click.option("-n", "--name", default="mlflow-pyfunc-servable", show_default=True, help="Name of the image.")
@_docker_options
@click.option("--engine", type=click.Choice(["docker", "podman"]), envvar="FLUVIAL_CONTAINER_ENGINE", default=None,
              help="Container engine [env FLUVIAL_CONTAINER_ENGINE]; default: docker if it answers, else podman.")
@click.option("--network", default=None, help="Network for the build's RUN steps (the engine's `build --network`, "
                                               "e.g. host where the default bridge has no route out).")
def build_docker(model_uri: str | None, name: str, env_manager: str | None, mlflow_home: str | None,
                 install_java: bool | None, install_mlflow: bool, enable_mlserver: bool, base_image: str | None,
                 wheelhouse: str | None, engine: str | None, network: str | None) -> None:
    import shutil
    import tempfile

    from fluvial.scoring.docker import build_image, check_engine

    docker = check_engine(engine)  # before any work: no engine, no build
    workdir = tempfile.mkdtemp(prefix="fluvial-docker-")
    try:
        context = _docker_context(model_uri, workdir, env_manager, mlflow_home, install_java, install_mlflow,
                                  enable_mlserver, base_image, wheelhouse)
        build_image(docker, context, name, network=network)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    echo_progress(f"Built image {name}. Run it with: docker run -p 5001:8080 {name}")


__all__ = ["commands"]
