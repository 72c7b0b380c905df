"""``server_artifacts``: a 200 MB artifact up and down through the proxied artifact service,
``fluvial server`` beside ``mlflow server`` 2.22.5, with the server's memory.

Both servers run with 1 worker on SQLite and a local ``--artifacts-destination`` in a fresh directory, on
127.0.0.1. The same plain ``http.client`` client (in this process) streams the file up with one
``PUT /api/2.0/mlflow-artifacts/artifacts/<path>`` (1 MiB blocks, Content-Length) and down with one
``GET`` (1 MiB reads, written to disk), so the servers are what is measured; the download is checked
byte for byte (sha256). Median of 3 round trips, after one warm-up round trip of 8 MB.

Memory: the RSS of the server's whole process tree (MLflow: gunicorn's arbiter and its worker), sampled
every 10 ms during the round trips; reported as the peak and as the growth over the tree's RSS just
before the first measured transfer.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench._harness import BenchError, Row, Side, fresh_dir, log

NAME = "server_artifacts"
SIZE = 200 * 1024 * 1024
WARMUP_SIZE = 8 * 1024 * 1024
REPEATS = 3
CHUNK = 1024 * 1024
ROUTE = "/api/2.0/mlflow-artifacts/artifacts"
START_TIMEOUT = 120.0
TRANSFER_TIMEOUT = 300.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack += children.get(pid, [])
    return pids


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class _Sampler:
    """Peak of the summed RSS of a process tree, sampled on a thread."""

    def __init__(self, root: int, interval: float = 0.01) -> None:
        self.root, self.interval = root, interval
        self.pids = _tree_pids(root)
        self.peak_kb = self.now_kb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now_kb(self) -> int:
        return sum(_rss_kb(pid) for pid in self.pids)

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(self.interval):
            ticks += 1
            if ticks % 100 == 0:  # a worker restarted by its arbiter would be new
                self.pids = _tree_pids(self.root)
            self.peak_kb = max(self.peak_kb, self.now_kb())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak_kb


@contextlib.contextmanager
def _server(side: Side, workdir: Path) -> Iterator[tuple[int, int]]:
    """(pid, port) of a server with 1 worker, stopped on exit."""
    port = _free_port()
    common = ["--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}", "--artifacts-destination",
              str(workdir / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    if side.module == "fluvial":
        argv = [side.python, "-m", "fluvial", "server", *common]
    else:
        argv = [str(Path(side.python).parent / "mlflow"), "server", *common]
    with open(workdir / "server.log", "wb") as out:
        # its own session: stopping signals the whole group (mlflow's CLI runs gunicorn as a child)
        proc = subprocess.Popen(argv, cwd=workdir, env=side.env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise BenchError(f"{side.label} server exited: {(workdir / 'server.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise BenchError(f"{side.label} server did not answer /health within {START_TIMEOUT:.0f}s")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                try:
                    conn.request("GET", "/health")
                    if conn.getresponse().status == 200:
                        break
                finally:
                    conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        yield proc.pid, port
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after 30 s; waits for every member."""
    group = proc.pid  # the session leader's pid is its group id
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _group_alive(group):
        with contextlib.suppress(ChildProcessError):
            proc.poll()
        time.sleep(0.1)
    if _group_alive(group):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    proc.wait(timeout=30)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


class _Blocks:
    """A file read in 1 MiB blocks whatever block size http.client asks for."""

    def __init__(self, fh) -> None:
        self.fh = fh

    def read(self, _size: int = -1) -> bytes:
        return self.fh.read(CHUNK)


def _upload(port: int, target: str, source: Path) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TRANSFER_TIMEOUT)
    try:
        with open(source, "rb") as fh:
            start = time.perf_counter()
            conn.request("PUT", f"{ROUTE}/{target}", body=_Blocks(fh),  # type: ignore[arg-type]
                         headers={"Content-Type": "application/octet-stream",
                                  "Content-Length": str(source.stat().st_size)})
            response = conn.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - start
        if response.status != 200:
            raise BenchError(f"upload: HTTP {response.status}: {body[:300]!r}")
        return elapsed
    finally:
        conn.close()


def _download(port: int, target: str, dest: Path) -> tuple[float, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TRANSFER_TIMEOUT)
    digest = hashlib.sha256()
    try:
        start = time.perf_counter()
        conn.request("GET", f"{ROUTE}/{target}")
        response = conn.getresponse()
        if response.status != 200:
            raise BenchError(f"download: HTTP {response.status}: {response.read()[:300]!r}")
        with open(dest, "wb") as out:
            while block := response.read(CHUNK):
                out.write(block)
                digest.update(block)
        elapsed = time.perf_counter() - start
        return elapsed, digest.hexdigest()
    finally:
        conn.close()


def _random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for _ in range(size // CHUNK):
            block = os.urandom(CHUNK)
            fh.write(block)
            digest.update(block)
    return digest.hexdigest()


def _measure(side: Side, source: Path, expected: str, warm: Path) -> dict[str, float]:
    with fresh_dir(f"{NAME}-server") as workdir, _server(side, workdir) as (pid, port):
        _upload(port, "warm/warm.bin", warm)
        _download(port, "warm/warm.bin", workdir / "warm.out")
        time.sleep(0.5)
        sampler = _Sampler(pid)
        before_kb = sampler.now_kb()
        ups, downs = [], []
        try:
            for i in range(REPEATS):
                ups.append(_upload(port, f"1/run{i}/artifacts/big%20file%20{i}.bin", source))
                seconds, digest = _download(port, f"1/run{i}/artifacts/big%20file%20{i}.bin", workdir / "out.bin")
                downs.append(seconds)
                if digest != expected:
                    raise BenchError(f"{side.label}: the downloaded file differs from the uploaded one")
                (workdir / "out.bin").unlink()
        finally:
            peak_kb = sampler.stop()
    return {"up": statistics.median(ups), "down": statistics.median(downs), "peak_mb": peak_kb / 1024,
            "growth_mb": (peak_kb - before_kb) / 1024, "idle_mb": before_kb / 1024}


def run(fluvial: Side, mlflow: Side | None) -> tuple[list[Row], str]:
    results: dict[str, dict[str, float]] = {}
    with fresh_dir(NAME) as scratch:
        source, warm = scratch / "big.bin", scratch / "warm.bin"
        log(f"{NAME}: writing a {SIZE // 2**20} MB file of random bytes")
        expected = _random_file(source, SIZE)
        _random_file(warm, WARMUP_SIZE)
        for side in (fluvial, mlflow):
            if side is None:
                continue
            log(f"{NAME}: {side.label} server (1 worker): {REPEATS} x {SIZE // 2**20} MB up and down")
            results[side.module] = r = _measure(side, source, expected, warm)
            log(f"{NAME}: {side.label}: upload {r['up']:.2f}s ({SIZE / 2**20 / r['up']:.0f} MB/s), download "
                f"{r['down']:.2f}s ({SIZE / 2**20 / r['down']:.0f} MB/s); server RSS {r['idle_mb']:.0f} MB before, "
                f"peak {r['peak_mb']:.0f} MB (+{r['growth_mb']:.1f} MB)")
    f, m = results["fluvial"], results.get("mlflow", {})
    mb = SIZE // 2**20
    rows = [
        Row(NAME, f"upload of {mb} MB (PUT)", "s", f["up"], m.get("up"), False),
        Row(NAME, f"download of {mb} MB (GET)", "s", f["down"], m.get("down"), False),
        Row(NAME, "server peak RSS during the transfers, 1 worker", "MB", f["peak_mb"], m.get("peak_mb"), False),
        Row(NAME, "server RSS growth during the transfers", "MB", max(f["growth_mb"], 0.1),
            m.get("growth_mb") and max(m["growth_mb"], 0.1), False),
    ]
    return rows, (f"servers with 1 worker, SQLite, local --artifacts-destination; one plain http.client client "
                  f"streams {mb} MB up (PUT) and down (GET), checked by sha256; median of {REPEATS} after an "
                  "8 MB warm-up; memory is the summed RSS of the server's process tree sampled every 10 ms.")


def main() -> int:
    """``python -m bench.server_artifacts``: run this benchmark alone and print its rows."""
    from bench._harness import fluvial_side, fmt_ratio, fmt_value, mlflow_side

    rows, note = run(fluvial_side(), mlflow_side())
    for r in rows:
        print(f"{r.measure} ({r.unit}): fluvial {fmt_value(r.fluvial)}, MLflow {fmt_value(r.mlflow)}, {fmt_ratio(r)}")
    print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
