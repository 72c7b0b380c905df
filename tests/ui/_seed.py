"""Demo data for the UI tests and ``scripts/ui-screenshots.py``: experiments, nested runs with params,
metric histories and artifacts of every previewed kind, and a registered model with versions."""

from __future__ import annotations

import json
import math
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

XSS = '<img src=x onerror="window.__xss=1">'

MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: fluvial.sklearn
    python_version: 3.11.2
mlflow_version: 2.22.5
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "alpha", "required": true}, {"type": "long", "name": "depth", "required": true}]'
  outputs: '[{"type": "double", "required": true}]'
"""


def png(width: int = 48, height: int = 32) -> bytes:
    """A small gradient PNG (no imaging library needed)."""
    rows = b"".join(b"\x00" + b"".join(bytes((x * 5 % 256, y * 8 % 256, 160)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _artifacts(folder: Path, hostile: bool) -> None:
    (folder / "model").mkdir()
    (folder / "model" / "MLmodel").write_text(MLMODEL)
    (folder / "model" / "input_example.json").write_text(json.dumps({"columns": ["alpha", "depth"], "data": [[0.1, 3]]}))
    (folder / "notes.txt").write_text("Training notes\n" + "line of text\n" * 50)
    (folder / "config.json").write_text(json.dumps({"lr": 0.01, "layers": [64, 32]}, indent=2))
    (folder / "data.csv").write_text("a,b,label\n" + "\n".join(f"{i},{i * i},{'x' if i % 2 else 'y'}" for i in range(30)))
    (folder / "plot.png").write_bytes(png())
    (folder / "report.html").write_text(f"<h1>Report</h1><script>parent.__xss=2</script>{XSS}" if hostile else "<h1>Report</h1>")
    if hostile:
        (folder / f"{XSS}.txt").write_text("hostile name")
    (folder / "big.log").write_text("".join(f"line {i:06d}\n" for i in range(12_000)) + "THE END\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    # 5,000 rows in row groups of 1,000: the preview reads the footer and the first rows only
    label = XSS if hostile else "ok"
    table = pa.table({"id": list(range(5000)), "score": [i / 7 for i in range(5000)],
                      "label": [label if i == 0 else f"row-{i}" for i in range(5000)]})
    pq.write_table(table, folder / "predictions.parquet", row_group_size=1000)


def seed(client: Any, hostile: bool = True) -> dict[str, Any]:
    """Create the demo data through the client (so it goes through the server); return ids. ``hostile``
    adds an experiment and a run whose names, params and tags are XSS attempts."""
    exp = client.create_experiment("demo-regression", tags={"team": "vision", "mlflow.note.content": "Regression **demo** with `alpha` sweep.\n\n- one\n- two"})
    other = client.create_experiment(f"hostile {XSS}" if hostile else "baseline")
    runs: list[str] = []
    parent = client.create_run(exp, run_name="sweep-parent", tags={"mlflow.user": "ada", "mlflow.source.name": "/src/train.py",
                                                                  "mlflow.source.git.commit": "0123456789abcdef"})
    pid = parent.info.run_id
    for i in range(6):
        run = client.create_run(exp, run_name=f"trial-{i}", tags={"mlflow.parentRunId": pid, "mlflow.user": "ada", "stage": "a" if i % 2 else "b"})
        rid = run.info.run_id
        client.log_param(rid, "alpha", str(round(0.1 * (i + 1), 2)))
        client.log_param(rid, "depth", str(3 + i % 3))
        from fluvial.entities import Metric

        metrics = [Metric("loss", 1.0 / (s + 1 + i) + 0.02 * math.sin(s), 1_700_000_000_000 + s * 1000, s) for s in range(200)]
        metrics += [Metric("accuracy", 1 - 1.0 / (s + 2 + i), 1_700_000_000_000 + s * 1000, s) for s in range(0, 200, 10)]
        client.log_batch(rid, metrics=metrics)
        client.set_terminated(rid, "FINISHED" if i != 4 else "FAILED")
        runs.append(rid)
    with tempfile.TemporaryDirectory() as tmp:
        _artifacts(Path(tmp), hostile)
        client.log_artifacts(pid, tmp)
    client.log_param(pid, "alpha", "sweep")
    client.log_metric(pid, "loss", 0.05)
    client.set_tag(pid, "mlflow.log-model.history", json.dumps([{"artifact_path": "model", "flavors": {"python_function": {}}}]))
    client.set_terminated(pid)
    odd = client.create_run(other, run_name=XSS if hostile else "baseline-run", tags={"note": XSS if hostile else "reference"})
    client.log_param(odd.info.run_id, "p", XSS if hostile else "1")
    client.set_terminated(odd.info.run_id)
    client.create_registered_model("demo-model", tags={"owner": "ada"}, description="The **demo** model.")
    v1 = client.create_model_version("demo-model", f"{parent.info.artifact_uri}/model", run_id=pid)
    client.create_model_version("demo-model", f"{parent.info.artifact_uri}/model", run_id=pid)
    client.transition_model_version_stage("demo-model", v1.version, "Production")
    client.set_registered_model_alias("demo-model", "champion", v1.version)
    return {"experiment": exp, "other": other, "parent": pid, "children": runs, "hostile": odd.info.run_id}
