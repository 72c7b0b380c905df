"""The Docker build context of ``fluvial models generate-dockerfile``, run without Docker (this machine has
no engine): a fresh virtualenv with the base image's Python version stands in for the image; the
Dockerfile's ENV, COPY and RUN steps are carried out in it with the image's WORKDIR mapped to the context
directory; then its ENTRYPOINT runs as it is, and /ping and /invocations must answer as the model does."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import fluvial as mlflow
from fluvial.environments.virtualenv import find_python
from fluvial.scoring.output import encode_predictions
from tests.scoring._models import save_sklearn
from tests.scoring._serving import invoke, request
from tests.server._serve import Process, _stop, _wait_ready, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


class Image:
    """The Dockerfile's instructions carried out on this machine: the image's filesystem paths that the
    Dockerfile uses map onto the build context (WORKDIR -> the context, COPY destinations -> sources)."""

    def __init__(self, context: Path, venv: Path) -> None:
        self.context, self.venv = context, venv
        self.paths: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.entrypoint: list[str] = []
        self.base_image = ""

    def local(self, text: str) -> str:
        for image_path in sorted(self.paths, key=len, reverse=True):
            text = text.replace(image_path, self.paths[image_path])
        return text

    def process_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        env.update({k: self.local(v) for k, v in self.env.items()})
        return env

    def build(self, dockerfile: str) -> None:
        for raw in dockerfile.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            instruction, _, rest = line.partition(" ")
            if instruction == "FROM":
                self.base_image = rest
            elif instruction == "WORKDIR":
                self.paths[rest.rstrip("/")] = str(self.context)
            elif instruction == "ENV":
                for pair in shlex.split(rest):
                    key, _, value = pair.partition("=")
                    self.env[key] = value
            elif instruction == "COPY":
                *sources, destination = rest.split()
                for source in sources:
                    assert (self.context / source).exists(), f"COPY source {source} is not in the context"
                mapped = self.local(destination)
                if mapped != destination:  # into WORKDIR: each source must already sit at its place
                    for source in sources:
                        # Docker: a directory's contents go into the destination; a file into dest/ keeps its name
                        is_file = (self.context / source).is_file()
                        place = Path(mapped) / Path(source).name if is_file and mapped.endswith("/") else Path(mapped)
                        assert place.resolve() == (self.context / source).resolve(), (line, place)
                else:  # elsewhere in the image (the model): that path means the context's copy
                    assert len(sources) == 1, line
                    self.paths[destination.rstrip("/")] = str(self.context / sources[0])
            elif instruction == "RUN":
                out = subprocess.run(["sh", "-c", self.local(rest)], cwd=self.context, env=self.process_env(),
                                     capture_output=True, text=True, timeout=900)
                assert out.returncode == 0, f"{line}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
            elif instruction == "ENTRYPOINT":
                self.entrypoint = [self.local(part) for part in json.loads(rest)]
            elif instruction not in ("EXPOSE", "USER"):  # the local run keeps this user
                raise AssertionError(f"the test does not know how to carry out {instruction}")


def test_the_generated_context_serves_the_model(tmp_path):
    path, sample = save_sklearn(tmp_path / "iris-model")
    context = tmp_path / "context"
    out = subprocess.run([sys.executable, "-m", "fluvial", "models", "generate-dockerfile", "-m", str(path), "-d",
                          str(context)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 0, out.stderr
    dockerfile = (context / "Dockerfile").read_text()
    version = re.search(r"^FROM python:([\d.]+)-slim$", dockerfile, re.MULTILINE)
    assert version, dockerfile
    found = find_python(version.group(1))
    if found is None:
        pytest.skip(f"Python {version.group(1)} (the image's) is not installed here")
    venv = tmp_path / "image"
    subprocess.run([found[0], "-m", "venv", str(venv)], check=True, timeout=300, env={"PATH": "/usr/bin:/bin"})
    image = Image(context, venv)
    image.build(dockerfile)
    assert image.entrypoint[:3] == ["fluvial", "models", "serve"]

    port = free_port()
    env = image.process_env()
    # what `docker run -p <port>:8080` would give, kept on the loopback interface for the test
    env.update({"MLFLOW_PORT": str(port), "MLFLOW_HOST": "127.0.0.1"})
    log = tmp_path / "container.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(image.entrypoint, cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    server = Process(url=f"http://127.0.0.1:{port}", proc=proc, log=log)
    try:
        _wait_ready(server, "/ping", 90)
        assert request(port, "GET", "/ping", content_type=None).status == 200
        want = json.loads(encode_predictions(mlflow.pyfunc.load_model(str(path)).predict(sample)))
        answer = invoke(port, {"dataframe_split": {"columns": list(sample.columns), "data": sample.values.tolist()}})
        assert answer.status == 200, answer.body
        assert answer.json() == want
        probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import fluvial; print(fluvial.__file__)"],
                               capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        assert probe.stdout.strip().startswith(str(venv))  # the wheel in the context, installed
    finally:
        _stop(proc)
    text = log.read_text()
    workers = re.search(r"\((\d+) workers?", text)
    assert workers and int(workers.group(1)) >= 1, text  # MLFLOW_MODELS_WORKERS=auto
