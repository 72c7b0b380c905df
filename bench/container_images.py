"""Model images per container engine: image size, build time, cold start and stop time.

Run under the engines' setup scripts (as root):

    bash scripts/with-docker.sh bash scripts/with-podman.sh .venv/bin/python -m bench.container_images

For each engine that is set up (Docker; podman's own CLI; the docker CLI on podman's Docker-compatible
socket, which shares podman's storage) it builds the sklearn iris model's image with
``fluvial models build-docker --base-image fluvial-test-base:bookworm --wheelhouse .cache/docker-wheelhouse``
(the wheelhouse tests/scoring/test_docker_images.py fills; build times depend on whether the engine's
layer cache is hit), reads the image's size from the engine, then RUNS times: ``run -d``
(host network, a free 127.0.0.1 port) to the first answered ``/invocations`` (cold start), and ``stop``
to the container's end (its exit code: 0 is SIGTERM honoured, 137 a kill). Prints a markdown table and
writes it into docs/benchmarks.md between the container-images markers (not with ``--no-docs``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.scoring._engines import WHEELHOUSE, Engine, find_engine
from tests.scoring._models import save_sklearn
from tests.scoring._serving import invoke
from tests.server._serve import free_port

RUNS = int(os.environ.get("FLUVIAL_BENCH_IMAGE_RUNS", "3"))
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- container-images-begin -->", "<!-- container-images-end -->"
START_BOUND = 120.0


def _build(eng: Engine, model: Path, name: str) -> float:
    argv = [sys.executable, "-m", "fluvial", "models", "build-docker", "-m", str(model), "-n", name,
            "--base-image", eng.base_image, "--wheelhouse", str(WHEELHOUSE), *eng.engine_args]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env=eng.environ())
    if proc.returncode != 0:
        raise SystemExit(f"{eng.name}: build-docker failed: {proc.stderr[-2000:]}")
    return time.monotonic() - started


def _cold_start(eng: Engine, name: str, body: dict[str, object]) -> tuple[float, float, str]:
    port = free_port()
    started = time.monotonic()
    proc = eng.run("run", "-d", "--network", "host", "-e", "MLFLOW_HOST=127.0.0.1", "-e", f"MLFLOW_PORT={port}", name)
    cid = proc.stdout.strip()
    try:
        while time.monotonic() - started < START_BOUND:
            try:
                if invoke(port, body).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise SystemExit(f"{eng.name}: no prediction within {START_BOUND:.0f} s")
        first = time.monotonic() - started
        stop_started = time.monotonic()
        eng.run("stop", "-t", "20", cid)
        stopped = time.monotonic() - stop_started
        code = eng.run("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip()
        return first, stopped, code
    finally:
        eng.run("rm", "-f", cid)


def _write_docs(table: list[str]) -> None:
    load = os.getloadavg()[0]
    block = "\n".join([
        BEGIN,
        "## Model images per container engine (`bench/container_images.py`)",
        "",
        "The sklearn iris model's image from `fluvial models build-docker --base-image fluvial-test-base:bookworm "
        "--wheelhouse ...` on each engine the setup scripts start: a private dockerd 20.10 (overlay2), rootful "
        "podman 4.3 (overlay, runc) through its own CLI, and the docker CLI on podman's Docker-compatible socket. "
        f"Cold start: `run -d` to the first answered `/invocations`; stop: `stop -t 20` to the end; {RUNS} runs "
        "each (min-max). Build times depend on whether the engine's layer cache is hit.",
        "",
        *table,
        "",
        f"Load average {load:.1f} at the end (2 cores shared with other jobs). MLflow 2.22.5's image for the same "
        "model on the same base (its own `generate-dockerfile`, Docker) is 1,261 MB and its server does not start "
        "(see [serving.md](serving.md#docker-images)). Rerun: `bash scripts/with-docker.sh bash "
        "scripts/with-podman.sh .venv/bin/python -m bench.container_images`.",
        END,
    ])
    text = DOCS.read_text()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(text)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        model, sample = save_sklearn(Path(tmp) / "iris")
        os.chmod(model, 0o755)
        body = {"dataframe_split": json.loads(sample.to_json(orient="split", index=False))}
        rows = []
        for name in ("docker", "podman", "podman-socket"):
            eng = find_engine(name)
            if isinstance(eng, str):
                print(f"{name}: skipped: {eng}", file=sys.stderr)
                continue
            tag = f"fluvial-bench-iris:{uuid.uuid4().hex[:8]}"
            built = _build(eng, model, tag)
            try:
                size = int(eng.run("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
                runs = [_cold_start(eng, tag, body) for _ in range(RUNS)]
            finally:
                eng.run("rmi", "-f", tag)
            starts = sorted(r[0] for r in runs)
            stops = sorted(r[1] for r in runs)
            codes = ",".join(sorted({r[2] for r in runs}))
            rows.append(f"| {name} | {size / 1e6:.0f} MB | {built:.0f} s | {starts[0]:.1f}-{starts[-1]:.1f} s "
                        f"| {stops[0]:.1f}-{stops[-1]:.1f} s, exit {codes} |")
            print(f"{name}: done", file=sys.stderr)
    table = ["| engine | image size | build | cold start (run to first prediction) | stop |",
             "|---|---|---|---|---|", *rows]
    print("\n".join(table))
    if "--no-docs" not in sys.argv[1:]:
        _write_docs(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
