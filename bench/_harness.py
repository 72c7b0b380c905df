"""What the benchmarks share: the two sides (fluvial in ``.venv``, MLflow in its own virtualenv), running
the workload script in a fresh subprocess and a fresh directory, result rows, and ``docs/benchmarks.md``."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MLFLOW_VERSION = "2.22.5"
WORKLOAD = Path(__file__).with_name("_workload.py")
RESULT_PREFIX = "BENCH-RESULT "
DOCS = REPO / "docs" / "benchmarks.md"
_STARTED = time.perf_counter()


class BenchError(RuntimeError):
    """A workload subprocess failed or printed no result."""


def log(message: str) -> None:
    """Progress, on stderr, with the seconds since the harness started."""
    print(f"[bench {time.perf_counter() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


# ---- the two sides -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    label: str  # "fluvial" or "MLflow 2.22.5"
    python: str  # interpreter of its virtualenv
    module: str  # what the workload imports as ``mlflow``
    env: dict[str, str] = field(repr=False)


def _base_env() -> dict[str, str]:
    """The parent's environment without anything that would point a side at other data or code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONHASHSEED"] = "0"
    return env


def fluvial_side() -> Side:
    venv_python = REPO / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    env = _base_env()
    # The checkout itself, so the subprocess imports this tree's fluvial whatever the install state.
    env["PYTHONPATH"] = str(REPO)
    return Side("fluvial", python, "fluvial", env)


def mlflow_python() -> Path | None:
    python = REPO / ".venvs" / f"mlflow-{MLFLOW_VERSION}" / "bin" / "python"
    return python if python.exists() else None


def mlflow_side() -> Side | None:
    python = mlflow_python()
    if python is None:
        return None
    env = _base_env()
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_PYTHON_REFRESH"] = "quiet"
    return Side(f"MLflow {MLFLOW_VERSION}", str(python), "mlflow", env)


# ---- running things ------------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_dir(tag: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"fluvial-bench-{tag}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (WAL content included) with the backup API."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def run_workload(
    side: Side,
    workload: str,
    kwargs: dict[str, Any],
    *,
    timeout: float,
    db_from: Path | None = None,
    keep_db: Path | None = None,
) -> dict[str, Any]:
    """Run one workload of ``_workload.py`` with ``side`` in a new process and a new directory holding a
    new database (a copy of ``db_from`` when given; copied out to ``keep_db`` when given)."""
    with fresh_dir(workload) as workdir:
        script = workdir / WORKLOAD.name
        shutil.copyfile(WORKLOAD, script)
        db = workdir / "mlflow.db"
        if db_from is not None:
            copy_sqlite(db_from, db)
        args = json.dumps({**kwargs, "db": str(db)})
        try:
            proc = subprocess.run(
                [side.python, str(script), side.module, workload, args],
                cwd=workdir,
                env=side.env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"{side.label}: {workload} took longer than {timeout:.0f}s") from exc
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
        if proc.returncode != 0 or not lines:
            tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
            raise BenchError(f"{side.label}: {workload} failed (exit {proc.returncode}):\n{tail}")
        if keep_db is not None:
            copy_sqlite(db, keep_db)
        return json.loads(lines[-1][len(RESULT_PREFIX):])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BenchServer:
    """``fluvial server`` or ``mlflow server`` of a side on a free 127.0.0.1 port, with the SQLite database
    ``workdir/mlflow.db`` and artifacts under ``workdir/artifacts``; in a session of its own, so ``stop``
    also stops gunicorn's workers, which outlive ``mlflow server``."""

    def __init__(self, side: Side, workdir: Path, workers: int = 4, timeout: float = 120,
                 extra: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        """``extra``: more server arguments (``--app-name basic-auth``); ``env``: added to the side's."""
        import http.client

        self.side, self.workdir, self.port = side, workdir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = f"sqlite:///{workdir / 'mlflow.db'}"
        common = ["--backend-store-uri", db, "--artifacts-destination", str(workdir / "artifacts"),
                  "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers), *(extra or [])]
        if side.module == "fluvial":
            argv = [side.python, "-m", "fluvial", "server", *common]
        else:
            argv = [str(Path(side.python).parent / "mlflow"), "server", *common]
        self.log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=workdir, env={**side.env, **(env or {})}, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{side.label} server exited: {(workdir / 'server.log').read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise BenchError(f"{side.label} server did not start within {timeout:.0f} s")

    def stop(self) -> None:
        import signal

        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=30)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


def time_process(side: Side, argv: list[str], cwd: Path, timeout: float = 120) -> tuple[float, str]:
    """Wall time of a whole ``python <argv>`` process, and its stdout."""
    start = time.perf_counter()
    proc = subprocess.run(
        [side.python, *argv], cwd=cwd, env=side.env, capture_output=True, text=True, timeout=timeout
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(f"{side.label}: python {' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def median(values: list[float]) -> float:
    return statistics.median(values)


def median_of(samples: list[dict[str, float]], key: str = "wall") -> float:
    return statistics.median(s[key] for s in samples)


def fmt_samples(samples: list[dict[str, float]], key: str = "wall") -> str:
    return ", ".join(f"{s[key] * 1000:.0f} ms" for s in samples)


# ---- results -------------------------------------------------------------------------------------
@dataclass
class Row:
    """One measured quantity of one benchmark on both sides."""

    benchmark: str
    measure: str
    unit: str
    fluvial: float | None
    mlflow: float | None
    higher_is_better: bool
    bar: float | None = None  # required speed-up of fluvial over MLflow

    @property
    def ratio(self) -> float | None:
        """How many times better fluvial is (>1: fluvial faster/smaller)."""
        if not self.fluvial or not self.mlflow:
            return None
        return self.fluvial / self.mlflow if self.higher_is_better else self.mlflow / self.fluvial

    @property
    def verdict(self) -> str:
        if self.bar is None:
            return ""
        if self.ratio is None:
            return "n/a"
        return "PASS" if self.ratio >= self.bar else "FAIL"


def fmt_value(value: float | None) -> str:
    if value is None:
        return "n/a"
    if float(value).is_integer() or value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def fmt_ratio(row: Row) -> str:
    return "n/a" if row.ratio is None else f"{row.ratio:,.1f}x"


def fmt_bar(row: Row) -> str:
    return "" if row.bar is None else f">= {row.bar:g}x {row.verdict}"


def table(rows: list[Row]) -> str:
    """A markdown table of the rows."""
    head = ["benchmark", "measure", "fluvial", f"MLflow {MLFLOW_VERSION}", "ratio", "bar"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * 3 + ["---"]) + "|"]
    for r in rows:
        cells = [f"`{r.benchmark}`", f"{r.measure} ({r.unit})", fmt_value(r.fluvial), fmt_value(r.mlflow),
                 fmt_ratio(r), fmt_bar(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


# ---- docs/benchmarks.md --------------------------------------------------------------------------
_DATA_MARK = "<!-- bench-data: "


def _previous(path: Path) -> tuple[list[Row], dict[str, str]]:
    """Rows and notes of the last write of ``path`` (kept in a comment at its end), so a partial run
    replaces only its own benchmarks."""
    if not path.exists():
        return [], {}
    for line in path.read_text().splitlines():
        if line.startswith(_DATA_MARK) and line.endswith(" -->"):
            with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
                data = json.loads(line[len(_DATA_MARK):-4])
                fields = set(Row.__dataclass_fields__)
                rows = [Row(**{k: v for k, v in r.items() if k in fields}) for r in data["rows"]]
                return rows, dict(data["notes"])
    return [], {}


def describe(names: tuple[str, ...]) -> str:
    """One paragraph per benchmark: its module docstring (the one place that says what it measures)."""
    import importlib
    import textwrap

    parts = []
    for name in names:
        doc = textwrap.dedent(importlib.import_module(f"bench.{name}").__doc__ or "").strip()
        first, _, rest = doc.partition("\n")
        parts.append(f"### `{name}`\n\n{first}\n{rest}".rstrip())
    return "\n\n".join(parts)


def write_docs(rows: list[Row], notes: dict[str, str], path: Path = DOCS) -> None:
    from bench import BENCHMARKS

    order = {name: i for i, name in enumerate(BENCHMARKS)}
    today = dt.date.today().isoformat()
    fresh = {r.benchmark for r in rows}
    old_rows, old_notes = _previous(path)
    merged = [r for r in old_rows if r.benchmark not in fresh] + rows
    merged.sort(key=lambda r: order.get(r.benchmark, len(order)))
    all_notes = {k: v for k, v in old_notes.items() if k not in fresh}
    all_notes.update({k: f"({today}) {v}" for k, v in notes.items()})
    all_notes = dict(sorted(all_notes.items(), key=lambda kv: order.get(kv[0], len(order))))
    m = machine()
    measured_notes = "\n".join(f"- **`{name}`** {text}" for name, text in all_notes.items())
    text = f"""# Benchmarks: fluvial beside MLflow {MLFLOW_VERSION}

Each benchmark runs the same workload script (`bench/_workload.py`, which does `import <module> as
mlflow`) once with fluvial and once with MLflow {MLFLOW_VERSION}, each with its own virtualenv's Python,
in a fresh subprocess, a fresh temporary directory and a fresh `sqlite:///` database. Times are taken
inside the subprocess with `time.perf_counter` (CPU: `time.process_time`); imports, store set-up and
warm-up calls are not timed (except in `import_time`, which times whole processes). The ratio is how
many times faster (or smaller) fluvial is; the bar is the speed-up fluvial is held to.

{table(merged)}

Last run: {today}, on {m["cpu"]} ({m["cores"]} cores), {m["os"]}, Python {m["python"]}, SQLite {m["sqlite"]}.

## What each benchmark does

{describe(BENCHMARKS)}

## Notes from the last run

{measured_notes or "- (none)"}

## Rerun

    make bench                                 # all benchmarks (builds .venv and .venvs/ first)
    .venv/bin/python -m bench log_metric       # some of them: {", ".join(BENCHMARKS)}
    .venv/bin/python -m bench --no-docs        # print only, leave this file alone

A partial run replaces only its own rows in the table above. This file is written by `python -m bench`
(its text lives in `bench/_harness.py`); timings live here, never in tests.

{_DATA_MARK}{json.dumps({"rows": [asdict(r) for r in merged], "notes": all_notes})} -->
"""
    old_text = path.read_text() if path.exists() else ""
    # the sections bench/scale.py and bench/container_images.py write are kept as they are
    for begin, end in (("<!-- scale-begin -->", "<!-- scale-end -->"),
                       ("<!-- container-images-begin -->", "<!-- container-images-end -->")):
        if begin in old_text and end in old_text:
            text += "\n" + old_text[old_text.index(begin):old_text.index(end) + len(end)] + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
