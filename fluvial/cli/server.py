"""``fluvial server`` (and ``fluvial ui``, the same command under MLflow's other name): the tracking server."""

from __future__ import annotations

import sys

import click

from fluvial.cli._common import fail

_NOT_APPLICABLE = {
    "gunicorn_opts": "--gunicorn-opts",
    "waitress_opts": "--waitress-opts",
    "uvicorn_opts": "--uvicorn-opts",
    "expose_prometheus": "--expose-prometheus",
}


def auth_config_path(app_name: str | None) -> str | None:
    if app_name is None:
        return None
    from fluvial.server.auth.config import config_path

    return str(config_path())


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@click.command(
    help="""Run the tracking server: MLflow's REST API (/api/2.0/mlflow/...) and the proxied artifact service.

\b
Two stores back it:
  backend store   the SQL database holding experiments, runs, params, metrics and tags
                  (--backend-store-uri; any SQLAlchemy URL, or a local directory)
  artifact store  where artifact files go: with --serve-artifacts (the default) clients send
                  bytes through this server, which keeps them under --artifacts-destination;
                  new experiments then get artifact locations mlflow-artifacts:/<id>
"""
)
@click.option("--backend-store-uri", envvar="MLFLOW_BACKEND_STORE_URI", default="sqlite:///mlflow.db",
              show_default=True, help="Database for tracking data (SQLAlchemy URL or a local directory).")
@click.option("--registry-store-uri", envvar="MLFLOW_REGISTRY_STORE_URI", default=None,
              help="Database for the model registry; defaults to the backend store.")
@click.option("--default-artifact-root", envvar="MLFLOW_DEFAULT_ARTIFACT_ROOT", default=None,
              help="Artifact location prefix for new experiments. Default: mlflow-artifacts:/ when serving "
                   "artifacts, else ./mlartifacts.")
@click.option("--serve-artifacts/--no-serve-artifacts", envvar="MLFLOW_SERVE_ARTIFACTS", default=True,
              show_default=True, help="Serve the proxied artifact routes (/api/2.0/mlflow-artifacts/...).")
@click.option("--artifacts-only", envvar="MLFLOW_ARTIFACTS_ONLY", is_flag=True, default=False,
              help="Serve only the proxied artifact routes; tracking routes answer 503.")
@click.option("--artifacts-destination", envvar="MLFLOW_ARTIFACTS_DESTINATION", default="./mlartifacts",
              show_default=True, help="Where proxied artifacts are stored (a directory or s3://bucket/prefix).")
@click.option("-h", "--host", envvar="MLFLOW_HOST", default="127.0.0.1", show_default=True,
              help="Address to bind. 0.0.0.0 exposes the server to the network: set --allowed-hosts.")
@click.option("-p", "--port", envvar="MLFLOW_PORT", default=5000, show_default=True, type=int)
@click.option("-w", "--workers", envvar="MLFLOW_WORKERS", default=4, show_default=True, type=int,
              help="Worker processes.")
@click.option("--static-prefix", envvar="MLFLOW_STATIC_PREFIX", default=None,
              help="Prefix for the UI and /ajax-api routes; starts with '/', does not end with '/'.")
@click.option("--allowed-hosts", envvar="MLFLOW_SERVER_ALLOWED_HOSTS", multiple=True,
              help="Host header values accepted (comma-separated or repeated; '*' for any). Default: "
                   "localhost, 127.0.0.1 and the --host address.")
@click.option("--cors-allowed-origins", envvar="MLFLOW_SERVER_CORS_ALLOWED_ORIGINS", multiple=True,
              help="Origins allowed to call the API from a browser (comma-separated or repeated).")
@click.option("--allowed-artifact-location", multiple=True,
              help="Extra prefixes that experiments' artifact_location may use (repeatable; '*' for any). "
                   "By default only the server's own artifact root is allowed.")
@click.option("--gunicorn-opts", envvar="MLFLOW_GUNICORN_OPTS", default=None, hidden=True)
@click.option("--waitress-opts", default=None, hidden=True)
@click.option("--uvicorn-opts", default=None, hidden=True)
@click.option("--expose-prometheus", envvar="MLFLOW_EXPOSE_PROMETHEUS", default=None, hidden=True)
@click.option("--app-name", default=None, type=click.Choice(["basic-auth"]),
              help="basic-auth: users, passwords, tokens and per-experiment/model permissions, configured by "
                   "basic_auth.ini (MLFLOW_AUTH_CONFIG_PATH). See docs/auth.md.")
@click.option("--dev", is_flag=True, default=False, hidden=True)
def server(
    backend_store_uri: str,
    registry_store_uri: str | None,
    default_artifact_root: str | None,
    serve_artifacts: bool,
    artifacts_only: bool,
    artifacts_destination: str,
    host: str,
    port: int,
    workers: int,
    static_prefix: str | None,
    allowed_hosts: tuple[str, ...],
    cors_allowed_origins: tuple[str, ...],
    allowed_artifact_location: tuple[str, ...],
    app_name: str | None,
    dev: bool,
    **not_applicable: str | None,
) -> None:
    for name, flag in _NOT_APPLICABLE.items():
        if not_applicable.get(name):
            click.echo(
                f"Note: {flag} does not apply to fluvial server (it runs its own uvicorn workers); ignored. "
                "Use --workers, --host and --port.", err=True)
    if dev:
        click.echo("Note: --dev has no effect in fluvial server.", err=True)
    if static_prefix is not None and (not static_prefix.startswith("/") or static_prefix.endswith("/")):
        fail(f"--static-prefix must begin with a '/' and must not end with a '/'; got {static_prefix!r}.")
    if workers < 1:
        fail("--workers must be at least 1.")
    if artifacts_only and backend_store_uri != "sqlite:///mlflow.db":
        fail("--artifacts-only cannot be combined with --backend-store-uri: an artifacts-only server does "
             "not use a backend store.")
    if not serve_artifacts and artifacts_only:
        fail("--artifacts-only needs --serve-artifacts.")

    from fluvial.server.config import ServerConfig, build_stores

    hosts = _split(allowed_hosts) or ("localhost", "127.0.0.1", "[::1]", *((host,) if host not in ("0.0.0.0", "::") else ()))
    if host in ("0.0.0.0", "::") and not allowed_hosts:
        hosts = ("*",)
        click.echo("Note: listening on all interfaces with any Host header accepted; restrict it with "
                   "--allowed-hosts.", err=True)
    config = ServerConfig(
        backend_store_uri=backend_store_uri,
        registry_store_uri=registry_store_uri,
        default_artifact_root=default_artifact_root,
        artifacts_destination=artifacts_destination,
        serve_artifacts=serve_artifacts,
        artifacts_only=artifacts_only,
        static_prefix=static_prefix or "",
        allowed_hosts=hosts,
        cors_allowed_origins=_split(cors_allowed_origins),
        allowed_artifact_locations=_split(allowed_artifact_location),
        app_name=app_name,
        auth_config_path=auth_config_path(app_name),
    )
    # Open the stores once before forking: migrations and the Default experiment are created here, and
    # a wrong URI fails now with one clear line instead of in every worker.
    from fluvial.exceptions import MlflowException

    try:
        stores = build_stores(config)
    except MlflowException as exc:
        if app_name is None:
            raise
        fail(exc.message)
    artifact_store = config.resolved_destination() if serve_artifacts else config.artifact_root
    from fluvial.server.app import create_app
    from fluvial.server.runner import serve
    from fluvial.store.tracking.sql.engine import dispose_engines

    del stores
    dispose_engines()

    def ready(url: str) -> None:
        click.echo(f"fluvial server: {url} ({workers} worker{'s' if workers != 1 else ''}); backend store "
                   f"{backend_store_uri}; artifact store {artifact_store}", err=True)
        sys.stderr.flush()

    try:
        serve(lambda: create_app(build_stores(config)), host, port, workers, on_ready=ready)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}. Choose another --port or stop the "
             "process using it.")


ui = click.Command(
    "ui", callback=server.callback, params=server.params, hidden=True,
    help="Run the tracking server on this machine (MLflow's `mlflow ui`): the same command and options as "
         "`fluvial server`, listening on http://127.0.0.1:5000 by default.\n" + (server.help or "").split("\n", 1)[1],
)
