"""``serving``: ``fluvial models serve`` beside ``mlflow models serve`` 2.22.5 on the same model files.

The model is a 100-tree RandomForestClassifier on 20 double features, saved once with MLflow's sklearn
flavor (in MLflow's virtualenv), so both servers load the same directory. Load comes from Debian's
``wrk`` (one thread, keep-alive connections, a Lua script that POSTs a fixed ``dataframe_split`` body) on
127.0.0.1: 1-row and 1,000-row payloads at concurrency 1, 8 and 32. Servers:

- fluvial ``--workers 2`` without batching, and with ``--batching``;
- MLflow with its default single worker (what the bars compare against), and with ``--workers 2``.

Measured per run: requests/s, p50 and p99 latency (wrk's latency distribution), non-2xx answers; per
server, the peak memory of its whole process tree during its runs (PSS where the kernel reports it,
else RSS), sampled every 0.2 s. Before the load, both servers' answers to both payloads are compared.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._harness import BenchError, Row, Side, fresh_dir, log

NAME = "serving"
TREES, FEATURES, TRAIN_ROWS = 100, 20, 5000
SIZES = (1, 1000)
CONCURRENCY = (1, 8, 32)
DURATION = int(os.environ.get("FLUVIAL_BENCH_SERVING_SECONDS", "10"))
WARMUP = 2
BAR_BATCHING, BAR_PLAIN, BAR_LARGE = 3.0, 1.5, 2.0
FASTAPI_PINS = ("fastapi==0.115.12", "starlette==0.46.2")

_SAVE = f"""
import sys
import numpy as np, pandas as pd
import mlflow
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=({TRAIN_ROWS}, {FEATURES})), columns=[f"f{{i}}" for i in range({FEATURES})])
y = (X["f0"] + X["f1"] * X["f2"] - X["f3"] > 0).astype(int)
model = RandomForestClassifier(n_estimators={TREES}, random_state=0).fit(X, y)
mlflow.sklearn.save_model(model, sys.argv[1], signature=infer_signature(X, model.predict(X)))
"""

_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("{path}", "rb"))
wrk.body = f:read("*a")
f:close()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        out.append(current)
        stack += children.get(current, [])
    return out


def _tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree."""
    ticks = 0
    for current in _tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree_memory_mb(pid: int) -> float:
    """PSS (else RSS) of a process and its descendants."""
    total_kb = 0
    for current in _tree(pid):
        for name, field in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
            try:
                text = Path(f"/proc/{current}/{name}").read_text()
                total_kb += next(int(ln.split()[1]) for ln in text.splitlines() if ln.startswith(field))
                break
            except (OSError, StopIteration):
                continue
    return total_kb / 1024


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_ms: float = 0.0  # server CPU time per request


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk latency {text!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _wrk(port: int, script: Path, connections: int, seconds: int) -> Result:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed: apt-get install -y wrk")
    argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency", "-s", str(script),
            f"http://127.0.0.1:{port}/invocations"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise BenchError(f"wrk failed: {out.stderr[-500:]}")
    text = out.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.MULTILINE)
    if not (rps and p50 and p99):
        raise BenchError(f"cannot read wrk's output:\n{text}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    count = re.search(r"(\d+) requests in", text)
    return Result(float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), errors,
                  int(count.group(1)) if count else 0)


class _Server:
    """One model server process (its own session, so the whole tree is stopped with it)."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], workdir: Path, port: int) -> None:
        self.label, self.port = label, port
        self.log_path = workdir / f"{re.sub(r'[^a-z0-9]+', '-', label.lower())}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.peak_mb = 0.0
        self._sampling = False
        self._sampler: threading.Thread | None = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise BenchError(f"{label} exited while starting: {self.log_path.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/ping")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise BenchError(f"{label} did not answer /ping within 180 s")

    def post(self, body: bytes) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status != 200:
            raise BenchError(f"{self.label}: HTTP {response.status}: {data[:300]!r}")
        return data

    def _sample(self) -> None:
        while self._sampling:
            self.peak_mb = max(self.peak_mb, _tree_memory_mb(self.proc.pid))
            time.sleep(0.2)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        try:
            yield
        finally:
            self._sampling = False
            self._sampler.join(timeout=5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # workers left behind by the group leader
        self.log.close()


def _ensure_mlflow_fastapi(python: str) -> None:
    """MLflow 2.22.5's scoring server does not start with today's FastAPI: pin the versions it knew."""
    check = subprocess.run([python, "-c", "import fastapi, starlette; print(fastapi.__version__, starlette.__version__)"],
                           capture_output=True, text=True, timeout=120)
    wanted = " ".join(p.split("==")[1] for p in FASTAPI_PINS)
    if check.returncode == 0 and check.stdout.strip() == wanted:
        return
    log(f"{NAME}: installing {' '.join(FASTAPI_PINS)} into MLflow's virtualenv (its server needs them)")
    subprocess.run([python, "-m", "pip", "install", "-q", *FASTAPI_PINS], check=True, timeout=600,
                   capture_output=True)


def _payload(rows: int) -> bytes:
    import random

    rng = random.Random(rows)
    data = [[round(rng.gauss(0, 1), 6) for _ in range(FEATURES)] for _ in range(rows)]
    return json.dumps({"dataframe_split": {"columns": [f"f{i}" for i in range(FEATURES)], "data": data}}).encode()


def _configs(fluvial: Side, mlflow: Side | None, model: Path) -> list[tuple[str, list[str], dict[str, str]]]:
    common = ["-m", str(model), "--env-manager", "local", "-h", "127.0.0.1"]
    out = [
        ("fluvial -w 2", [fluvial.python, "-m", "fluvial", "models", "serve", *common, "-w", "2"], fluvial.env),
        ("fluvial -w 2 --batching", [fluvial.python, "-m", "fluvial", "models", "serve", *common, "-w", "2",
                                     "--batching"], fluvial.env),
    ]
    if mlflow is not None:
        cli = str(Path(mlflow.python).parent / "mlflow")
        out += [("MLflow -w 1", [cli, "models", "serve", *common], mlflow.env),
                ("MLflow -w 2", [cli, "models", "serve", *common, "-w", "2"], mlflow.env)]
    return out


def _measure(label: str, argv: list[str], env: dict[str, str], workdir: Path, bodies: dict[int, bytes],
             scripts: dict[int, Path], answers: dict[int, bytes]) -> tuple[dict[tuple[int, int], Result], float]:
    port = _free_port()
    server = _Server(label, [*argv, "-p", str(port)], env, workdir, port)
    results: dict[tuple[int, int], Result] = {}
    try:
        for rows, body in bodies.items():
            answer = json.loads(server.post(body))
            if rows in answers and json.loads(answers[rows]) != answer:
                raise BenchError(f"{label} answers the {rows}-row payload differently from the first server")
            answers.setdefault(rows, json.dumps(answer).encode())
        with server.sampling():
            for rows in SIZES:
                for connections in CONCURRENCY:
                    _wrk(port, scripts[rows], connections, WARMUP)
                    cpu_before = _tree_cpu_seconds(server.proc.pid)
                    result = _wrk(port, scripts[rows], connections, DURATION)
                    result.cpu_ms = (_tree_cpu_seconds(server.proc.pid) - cpu_before) * 1000 / max(1, result.requests)
                    results[(rows, connections)] = result
                    log(f"{NAME}: {label}: {rows:>4} rows, c={connections:<2}: {result.rps:8.1f} req/s  "
                        f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  CPU {result.cpu_ms:5.1f} ms/req"
                        + (f"  ({result.errors} errors)" if result.errors else ""))
    finally:
        server.stop()
    return results, server.peak_mb


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results: dict[str, dict[tuple[int, int], Result]] = {}
    memory: dict[str, float] = {}
    with fresh_dir("serving") as workdir:
        model = workdir / "rf-model"
        saver = mlflow or fluvial
        if mlflow is not None:
            _ensure_mlflow_fastapi(mlflow.python)
        log(f"{NAME}: saving a {TREES}-tree RandomForest on {FEATURES} features with {saver.label}'s sklearn flavor")
        script = workdir / "save.py"
        script.write_text(_SAVE if saver is mlflow else _SAVE.replace("import mlflow", "import fluvial as mlflow")
                          .replace("from mlflow.models", "from fluvial.models"))
        saved = subprocess.run([saver.python, str(script), str(model)], cwd=workdir, env=saver.env,
                               capture_output=True, text=True, timeout=900)
        if saved.returncode != 0:
            raise BenchError(f"saving the model failed: {saved.stderr[-2000:]}")
        bodies = {rows: _payload(rows) for rows in SIZES}
        scripts = {}
        for rows, body in bodies.items():
            (workdir / f"body-{rows}.json").write_bytes(body)
            scripts[rows] = workdir / f"post-{rows}.lua"
            scripts[rows].write_text(_LUA.format(path=workdir / f"body-{rows}.json"))
        answers: dict[int, bytes] = {}
        for label, argv, env in _configs(fluvial, mlflow, model):
            log(f"{NAME}: {label}")
            results[label], memory[label] = _measure(label, argv, env, workdir, bodies, scripts, answers)
            log(f"{NAME}: {label}: peak memory {memory[label]:.0f} MB")
    return _rows(results, memory), _note(results, memory)


def _rows(results: dict[str, dict[tuple[int, int], Result]], memory: dict[str, float]) -> list[Row]:
    plain, batched = results["fluvial -w 2"], results["fluvial -w 2 --batching"]
    base, base2 = results.get("MLflow -w 1", {}), results.get("MLflow -w 2", {})

    def value(table: dict[tuple[int, int], Result], key: tuple[int, int], attr: str) -> float | None:
        result = table.get(key)
        return None if result is None else float(getattr(result, attr))

    rows: list[Row] = []
    for size in SIZES:
        for c in CONCURRENCY:
            key = (size, c)
            what = f"{size:,}-row dataframe_split, c={c}"
            small8 = size == 1 and c == 8
            bar_plain = BAR_PLAIN if small8 else BAR_LARGE if size == 1000 else None
            bar_batch = BAR_BATCHING if small8 else BAR_LARGE if size == 1000 else None
            rows += [
                Row(NAME, f"{what}: requests/s, -w 2 vs MLflow's 1 worker", "req/s", value(plain, key, "rps"),
                    value(base, key, "rps"), True, bar_plain),
                Row(NAME, f"{what}: requests/s, -w 2 --batching vs MLflow's 1 worker", "req/s",
                    value(batched, key, "rps"), value(base, key, "rps"), True, bar_batch),
                Row(NAME, f"{what}: requests/s, -w 2 vs MLflow -w 2", "req/s", value(plain, key, "rps"),
                    value(base2, key, "rps"), True),
                Row(NAME, f"{what}: p50 latency, -w 2 vs MLflow's 1 worker", "ms", value(plain, key, "p50_ms"),
                    value(base, key, "p50_ms"), False),
                Row(NAME, f"{what}: p99 latency, -w 2 vs MLflow's 1 worker", "ms", value(plain, key, "p99_ms"),
                    value(base, key, "p99_ms"), False, 1.0 if small8 else None),
                Row(NAME, f"{what}: p99 latency, -w 2 --batching vs MLflow's 1 worker", "ms",
                    value(batched, key, "p99_ms"), value(base, key, "p99_ms"), False, 1.0 if small8 else None),
            ]
            if c == 8:
                rows += [
                    Row(NAME, f"{what}: server CPU per request, -w 2 vs MLflow's 1 worker", "ms",
                        value(plain, key, "cpu_ms"), value(base, key, "cpu_ms"), False),
                    Row(NAME, f"{what}: server CPU per request, -w 2 --batching vs MLflow's 1 worker", "ms",
                        value(batched, key, "cpu_ms"), value(base, key, "cpu_ms"), False),
                ]
    rows += [
        Row(NAME, "peak memory under load, -w 2 vs MLflow's 1 worker", "MB", memory.get("fluvial -w 2"),
            memory.get("MLflow -w 1"), False),
        Row(NAME, "peak memory under load, -w 2 vs MLflow -w 2", "MB", memory.get("fluvial -w 2"),
            memory.get("MLflow -w 2"), False),
        Row(NAME, "peak memory under load, -w 2 --batching vs MLflow -w 2", "MB",
            memory.get("fluvial -w 2 --batching"), memory.get("MLflow -w 2"), False),
    ]
    return rows


def _note(results: dict[str, dict[tuple[int, int], Result]], memory: dict[str, float]) -> str:
    errors = {label: sum(r.errors for r in table.values()) for label, table in results.items()}
    bad = ", ".join(f"{label}: {n}" for label, n in errors.items() if n)
    return (f"a {TREES}-tree RandomForestClassifier on {FEATURES} double features saved once with MLflow's sklearn "
            f"flavor, served by both from the same files (`--env-manager local`); load from `wrk -t1` for "
            f"{DURATION} s per point after a {WARMUP} s warm-up, POSTing one fixed `dataframe_split` body; "
            "fluvial with `--workers 2`, with and without `--batching`; MLflow with its default 1 worker (the bars) "
            "and with `--workers 2`. Memory: peak PSS (RSS where PSS is unavailable) of each server's process tree "
            "during its runs. CPU per request: user+system time of the server's process tree during a run over the "
            "requests answered (independent of other load on the machine, unlike requests/s). The machine has 2 "
            "cores shared by the server, wrk and anything else running."
            + (f" Non-2xx/socket errors: {bad}." if bad else " No request failed."))


if __name__ == "__main__":  # pragma: no cover - manual runs
    sys.exit("run through `python -m bench serving`")
