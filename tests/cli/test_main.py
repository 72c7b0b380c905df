"""The root command: version, help, lazy imports, the one error format, and real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fluvial.cli import COMMANDS
from fluvial.version import VERSION


def _fluvial(*args: str, cwd, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "fluvial", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_version(cli):
    assert cli.ok("--version").stdout == f"fluvial, version {VERSION}\n"


def test_help_lists_every_command(cli):
    from fluvial.cli import main

    out = cli.ok("--help").stdout
    for name in COMMANDS:
        hidden = main.get_command(None, name).hidden  # type: ignore[arg-type,union-attr]
        assert (f"\n  {name} " in out) != hidden, name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(cli, name):
    assert "Usage: fluvial " + name in cli.ok(name, "--help").stdout


@pytest.mark.parametrize("args", [(), ("runs",), ("experiments",)])
def test_a_group_without_a_command_shows_its_help(cli, args):
    result = cli.invoke(*args)
    assert f"Usage: fluvial {' '.join(args)}".strip() in result.output
    assert "Commands:" in result.output and "Error" not in result.output
    assert isinstance(result.exception, SystemExit) or result.exception is None


def test_unknown_command_is_one_error_line(cli):
    cli.error("nonsense", contains="No such command 'nonsense'")


def test_missing_required_option_is_one_error_line(cli):
    line = cli.error("runs", "describe", contains="Missing option '--run-id'")
    assert "fluvial runs describe --help" in line


def test_help_does_not_import_heavy_packages(tmp_path):
    script = (
        "import sys\n"
        "from fluvial.cli import main\n"
        "for args in (['--help'], ['runs', '--help'], ['gc', '--help'], ['migrate-filestore', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "print(__import__('json').dumps(sorted(m for m in ('sqlalchemy', 'pandas', 'numpy') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_python_dash_m_fluvial_runs_commands(tmp_path):
    result = _fluvial("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"fluvial, version {VERSION}"

    uri = f"sqlite:///{tmp_path / 'proc.db'}"
    created = _fluvial("experiments", "create", "-n", "from-a-process", cwd=tmp_path, env_extra={"MLFLOW_TRACKING_URI": uri})
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "Created experiment 'from-a-process' with id 1"
    listed = _fluvial("experiments", "search", cwd=tmp_path, env_extra={"MLFLOW_TRACKING_URI": uri})
    assert "from-a-process" in listed.stdout


def test_errors_in_a_real_process_have_no_traceback(tmp_path, cli):
    uri = f"sqlite:///{tmp_path / 'proc.db'}"
    env = {"MLFLOW_TRACKING_URI": uri}
    assert _fluvial("experiments", "create", "-n", "e", cwd=tmp_path, env_extra=env).returncode == 0
    before = cli.dump_db(uri)
    for args in (
        ("runs", "describe", "--run-id", "0" * 32),
        ("experiments", "delete", "-x", "42"),
        ("experiments", "search", "--view", "sideways"),
        ("experiments", "create", "-n", "e"),
        ("gc", "--older-than", "soon"),
        ("db", "upgrade", "not-a-url"),
    ):
        result = _fluvial(*args, cwd=tmp_path, env_extra=env)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.stderr)
        assert result.stdout == ""
    assert cli.dump_db(uri) == before


def test_default_tracking_uri_is_sqlite_in_the_working_directory(tmp_path, cli):
    cli.ok("experiments", "create", "-n", "here")
    assert (tmp_path / "mlflow.db").is_file()
    assert "here" in cli.ok("experiments", "search").stdout


def test_a_database_error_is_one_line(tmp_path, cli):
    bad = tmp_path / "not-a-db.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    cli.error("db", "upgrade", f"sqlite:///{bad}", contains="database error")


def _leaf_commands():
    import click

    from fluvial.cli import main

    ctx = click.Context(main)

    def walk(command, path):
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), [*path, name])
        elif not command.hidden:  # hidden aliases (`fluvial ui`) share the documented command's options
            yield " ".join(path), command

    return list(walk(main, []))


@pytest.mark.parametrize(("path", "command"), _leaf_commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_and_option_is_documented(path, command):
    import pathlib
    import re

    text = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    heading = re.search(rf"^(##+) `fluvial {re.escape(path)}( [A-Z]+)?`$", text, re.MULTILINE)
    assert heading, f"docs/cli.md has no section for `fluvial {path}`"
    rest = text[heading.end():]
    end = re.search(r"^##+ ", rest, re.MULTILINE)
    section = rest[: end.start()] if end else rest
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        for flag in param.opts + param.secondary_opts:
            if flag.startswith("-"):
                assert f"`{flag}" in section or f" {flag}" in section, f"{flag} of `fluvial {path}` is undocumented"
