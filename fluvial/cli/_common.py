"""What every ``fluvial`` command shares: the lazily loading root group, the one error handler,
option bundles and small output helpers.

This module imports click and the standard library only (plus ``fluvial.entities`` and
``fluvial.exceptions``, which are stdlib-only), so ``fluvial --help`` stays fast.
"""

from __future__ import annotations

import errno
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from fluvial.entities import ViewType
from fluvial.exceptions import MlflowException

VIEW_CHOICES = ("active_only", "deleted_only", "all")
# click >= 8.2 raises this (a UsageError) for a group invoked without a command
_NO_ARGS_IS_HELP: type[Exception] | None = getattr(click.exceptions, "NoArgsIsHelpError", None)


def one_line(message: str) -> str:
    """``message`` with its lines joined by single spaces: errors are printed on one line."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {one_line(message)}", err=True)
    sys.exit(code)


def _database_error_message(exc: BaseException) -> str | None:
    """A readable message for SQLAlchemy errors, recognised without importing SQLAlchemy."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return None
    orig = getattr(exc, "orig", None)
    detail = str(orig) if orig is not None else str(exc)
    # SQLAlchemy appends "(Background on this error at: ...)" and the SQL text; keep the cause.
    detail = detail.split("\n[SQL:")[0].split("(Background on this error")[0]
    return f"database error: {one_line(detail)}"


def _yaml_error_message(exc: BaseException) -> str | None:
    """A readable message for a YAML syntax error (MLmodel, python_env.yaml, conda.yaml, MLproject...)."""
    if not type(exc).__module__.startswith("yaml"):
        return None
    mark = getattr(exc, "problem_mark", None)
    where = f" {mark.name}, line {mark.line + 1}" if mark is not None and mark.name not in ("<unicode string>",
                                                                                             "<byte string>") else (
        f" (line {mark.line + 1})" if mark is not None else "")
    problem = getattr(exc, "problem", None) or str(exc)
    return f"malformed YAML in{where}: {one_line(problem)}. Fix that file (or recreate it) and run the command again."


class LazyGroup(click.Group):
    """A click group whose subcommands are ``"module:attr"`` strings imported on first use.

    As the root group it is also the one place that turns errors into exit codes: a usage error,
    an ``MlflowException``, a database error or an OS error prints ``Error: <message>`` on one line
    to stderr and exits non-zero, without a traceback. Anything else is a bug and keeps its traceback.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Aborted!", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            if _NO_ARGS_IS_HELP is not None and isinstance(exc, _NO_ARGS_IS_HELP):
                exc.show()  # a group run without a command: its help, as click prints it
                sys.exit(exc.exit_code)
            hint = ""
            if exc.ctx is not None:
                hint = f" Try '{exc.ctx.command_path} {exc.ctx.help_option_names[0]}' for help."
            fail(exc.format_message() + hint, exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except MlflowException as exc:
            fail(exc.message or type(exc).__name__)
        except ModuleNotFoundError as exc:
            from fluvial._internal.lazy import missing_module_message

            fail(missing_module_message(exc.name or str(exc)))
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # output piped into `head` and the like
                sys.exit(1)
            where = f": {exc.filename}" if exc.filename else ""
            fail(f"{exc.strerror or exc}{where}")
        except Exception as exc:
            message = _database_error_message(exc) or _yaml_error_message(exc)
            if message is None:
                raise
            fail(message)
        sys.exit(code if isinstance(code, int) else 0)


# ---- option bundles ---------------------------------------------------------------------------------


def _to_view_type(_ctx: click.Context, _param: click.Parameter, value: str) -> int:
    return int(ViewType.from_string(value))


def view_option(noun: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``-v/--view``: active_only (default), deleted_only or all; the command receives a ViewType int."""
    return click.option(
        "-v",
        "--view",
        "view_type",
        type=click.Choice(VIEW_CHOICES, case_sensitive=False),
        default="active_only",
        show_default=True,
        callback=_to_view_type,
        help=f"Which {noun} to show, by lifecycle stage.",
    )


def run_id_option(*flags: str, help: str = "Run ID.", required: bool = True) -> Callable[..., Any]:
    return click.option(*(flags or ("--run-id",)), "run_id", required=required, help=help)


def experiment_id_option(*flags: str, required: bool = True, **kwargs: Any) -> Callable[..., Any]:
    return click.option(
        *(flags or ("-x", "--experiment-id")), "experiment_id", required=required, help="Experiment ID.", **kwargs
    )


def artifact_path_option(help: str) -> Callable[..., Any]:
    return click.option("-a", "--artifact-path", "artifact_path", default=None, help=help)


def comma_list(value: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None or "" -> []."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]


# ---- output -----------------------------------------------------------------------------------------


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain text table: header, a dashed rule, then rows; columns left-aligned, two spaces apart."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) + 2 for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in cells]
    return "\n".join(lines)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def echo_progress(message: str) -> None:
    click.echo(message, err=True)
