"""The web UI's data endpoints over HTTP against a real ``fluvial server``: the runs page without its
count (``with_count``), gzip negotiated on the ``/ajax-api`` answers (and never on ``/api``), and the
Parquet preview of the artifact browser (first rows only, bounded, errors for bad input)."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from _serve import fluvial_server
from _ui import client_for

UI = "/ajax-api/2.0/fluvial/ui"


def call(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with fluvial_server(tmp_path_factory.mktemp("ui-data")) as server:
        client = client_for(server)
        exp = client.create_experiment("ui-data")
        runs = [client.create_run(exp, run_name=f"r{i:03d}").info.run_id for i in range(60)]
        folder = tmp_path_factory.mktemp("parquet")
        pq.write_table(pa.table({"n": list(range(2500)), "blob": [b"\x00\xff" * i for i in range(2500)],
                                 "when": pa.array([None] + [1_700_000_000_000 + i for i in range(2499)],
                                                  pa.timestamp("ms"))}),
                       folder / "table.parquet", row_group_size=500)
        (folder / "not.parquet").write_text("just text")
        client.log_artifacts(runs[0], str(folder))
        yield {"server": server, "exp": exp, "runs": runs}
    assert "Traceback" not in server.log.read_text(errors="replace"), server.log_tail()


def _page(world: dict[str, Any], **extra: Any) -> dict[str, Any]:
    status, _, body = call(world["server"].url + UI + "/runs-page", "POST",
                           {"experiment_ids": [world["exp"]], "max_results": 10, **extra})
    assert status == 200, body
    return json.loads(body)


def test_runs_page_counts_unless_told_not_to(world: dict[str, Any]) -> None:
    assert _page(world)["count"] == 60
    without = _page(world, with_count=False)
    assert "count" not in without and len(without["runs"]) == 10 and without["next_page_token"]
    assert _page(world, with_count=True, filter="attributes.run_name LIKE 'r00%'")["count"] == 10


def test_ajax_answers_are_gzipped_when_the_browser_takes_it(world: dict[str, Any]) -> None:
    url = world["server"].url + UI + "/runs-page"
    body = {"experiment_ids": [world["exp"]], "max_results": 50}
    status, headers, raw = call(url, "POST", body, {"Accept-Encoding": "gzip, deflate, br"})
    assert status == 200 and headers["content-encoding"] == "gzip" and "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(raw)
    plain = json.loads(gzip.decompress(raw))
    assert len(plain["runs"]) == 50
    # not asked for, refused with q=0, or a small answer: sent as it is
    for accept in (None, "identity", "gzip;q=0"):
        status, headers, raw = call(url, "POST", body, {"Accept-Encoding": accept} if accept else {})
        assert status == 200 and "content-encoding" not in headers and json.loads(raw)["runs"]
    status, headers, raw = call(url, "POST", {**body, "max_results": 1}, {"Accept-Encoding": "gzip"})
    assert "content-encoding" not in headers and len(json.loads(raw)["runs"]) == 1
    # the REST API keeps MLflow's uncompressed answers
    status, headers, raw = call(world["server"].url + "/api/2.0/mlflow/runs/search", "POST",
                                {"experiment_ids": [world["exp"]], "max_results": 50}, {"Accept-Encoding": "gzip"})
    assert status == 200 and "content-encoding" not in headers and len(json.loads(raw)["runs"]) == 50


def _preview(world: dict[str, Any], **query: Any) -> tuple[int, dict[str, Any]]:
    status, _, raw = call(world["server"].url + UI + "/artifact-preview?" + urlencode(query))
    return status, json.loads(raw)


def test_parquet_preview_first_rows(world: dict[str, Any]) -> None:
    status, out = _preview(world, run_id=world["runs"][0], path="table.parquet", max_rows=3)
    assert status == 200, out
    assert out["columns"] == [{"name": "n", "type": "int64"}, {"name": "blob", "type": "binary"},
                              {"name": "when", "type": "timestamp[ms]"}]
    assert out["total_rows"] == 2500 and out["total_columns"] == 3 and out["truncated"] is True
    assert [r[0] for r in out["rows"]] == [0, 1, 2]
    assert out["rows"][0][1:] == ["0x", None] and out["rows"][1][1] == "0x00ff"
    assert out["rows"][1][2].startswith("2023-11-14")
    status, out = _preview(world, run_id=world["runs"][0], path="table.parquet")
    assert status == 200 and len(out["rows"]) == 100


@pytest.mark.parametrize(("query", "status", "code"), [
    ({"path": "table.parquet", "max_rows": 0}, 400, "INVALID_PARAMETER_VALUE"),
    ({"path": "table.parquet", "max_rows": 1001}, 400, "INVALID_PARAMETER_VALUE"),
    ({"path": "not.parquet"}, 400, "INVALID_PARAMETER_VALUE"),
    ({"path": "../../mlflow.db"}, 400, "INVALID_PARAMETER_VALUE"),
    ({"path": "missing.parquet"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ({}, 400, "INVALID_PARAMETER_VALUE"),
])
def test_parquet_preview_refuses_bad_requests(world: dict[str, Any], query: dict[str, Any], status: int, code: str) -> None:
    got, out = _preview(world, run_id=world["runs"][0], **query)
    assert (got, out.get("error_code")) == (status, code), out


def test_parquet_preview_of_an_unknown_run(world: dict[str, Any]) -> None:
    got, out = _preview(world, run_id="0" * 32, path="table.parquet")
    assert got == 404 and out["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_parquet_preview_reads_a_stream_through_a_temporary_file(tmp_path: Path) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from fluvial.server.ui import parquet

    sink = io.BytesIO()
    pq.write_table(pa.table({"x": [1.5, float("nan"), None]}), sink)

    class Pipe(io.RawIOBase):  # a stream that cannot seek, like an HTTP body
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return self.inner.read(n)

    out = parquet.preview(Pipe(sink.getvalue()), 10)  # type: ignore[arg-type]
    assert out["rows"] == [[1.5], ["nan"], [None]] and out["truncated"] is False


def _post(world: dict[str, Any], route: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, _, raw = call(world["server"].url + UI + route, "POST", {"experiment_ids": [world["exp"]], **body})
    return status, json.loads(raw)


def test_groups_and_group_runs_over_the_whole_result(world: dict[str, Any]) -> None:
    status, out = _post(world, "/groups", {"group_by": "tag:mlflow.runName", "filter": "attributes.run_name LIKE 'r05%'",
                                           "metrics": ["nothing-logged"]})
    assert status == 200, out
    assert [(g["value"], g["count"]) for g in out["groups"]] == [(f"r05{i}", 1) for i in range(10)]
    assert out["groups"][0]["metrics"] == {"nothing-logged": None} and out["truncated"] is False
    status, out = _post(world, "/groups", {"group_by": "param:absent"})
    assert status == 200 and out["groups"] == [{"value": None, "count": 60, "metrics": {}}]
    seen: list[str] = []
    token = None
    for _ in range(10):  # bounded: 60 runs in pages of 25
        status, out = _post(world, "/group-runs", {"group_by": "param:absent", "no_value": True, "max_results": 25,
                                                   **({"page_token": token} if token else {})})
        assert status == 200, out
        seen += [r["info"]["run_name"] for r in out["runs"]]
        token = out.get("next_page_token")
        if not token:
            break
    assert seen == [f"r{i:03d}" for i in range(59, -1, -1)]  # newest first, each once


@pytest.mark.parametrize(("route", "body"), [
    ("/groups", {"group_by": "metric:acc"}),
    ("/groups", {"group_by": "param:"}),
    ("/groups", {"group_by": "param:x", "metrics": [f"m{i}" for i in range(21)]}),
    ("/group-runs", {"group_by": "param:x", "page_token": "not-a-token"}),
    ("/group-runs", {"group_by": "param:x", "max_results": 0}),
    ("/nesting", {"run_ids": ["x"] * 5001}),
    ("/nesting", {"filter": "params.x ==== 1"}),
])
def test_structure_endpoints_refuse_bad_requests(world: dict[str, Any], route: str, body: dict[str, Any]) -> None:
    status, out = _post(world, route, body)
    assert status == 400 and out["error_code"] == "INVALID_PARAMETER_VALUE", out
