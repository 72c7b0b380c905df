"""Hostile requests against a real ``fluvial server`` process, in raw HTTP (``_serve.raw_http``: bytes on a
socket, no client-side normalisation): path traversal in every spelling on every artifact route,
symlinks planted in the destination that lead out of it, experiment artifact locations outside the
server's roots, malformed and oversized bodies, hostile headers, unknown routes and methods.

Every case asserts: a 4xx status (never 5xx), a JSON ``{"error_code", "message"}`` body, an answer within
the request timeout, and no change on disk (the artifacts destination and a canary directory beside it,
hashed, symlinks included) or in the database (every table dumped before and after).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from _serve import Server, fluvial_server, raw_http

TIMEOUT = 5.0  # "a few seconds": every refusal must come well within this
ART = "/api/2.0/mlflow-artifacts/artifacts"
AJAX_ART = "/ajax-api/2.0/mlflow-artifacts/artifacts"
MPU = "/api/2.0/mlflow-artifacts/mpu"
JSON_CT = {"Content-Type": "application/json"}


@dataclass
class World:
    server: Server
    dest: Path
    canary: Path
    db: Path
    exp: str
    run: str
    run2: str  # its artifacts directory is a symlink out of the destination

    @property
    def run_root(self) -> str:
        return f"{self.exp}/{self.run}/artifacts"


def _call(world: World, method: str, target: str, headers: dict | None = None, body: bytes = b"") -> Any:
    return raw_http(world.server.port, method, target, headers, body, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("hostile")
    canary = base / "canary"
    (canary / "sub").mkdir(parents=True)
    (canary / "secret.txt").write_text("top secret")
    (canary / "sub" / "secret2.txt").write_text("also secret")
    with fluvial_server(base / "srv") as server:
        dest = Path(server.destination)
        w = World(server, dest, canary, base / "srv" / "mlflow.db", "", "", "")
        w.exp = _call(w, "POST", "/api/2.0/mlflow/experiments/create", JSON_CT, b'{"name": "legit"}').json()[
            "experiment_id"]
        for attr in ("run", "run2"):
            answer = _call(w, "POST", "/api/2.0/mlflow/runs/create", JSON_CT,
                           json.dumps({"experiment_id": w.exp, "start_time": 1}).encode()).json()
            setattr(w, attr, answer["run"]["info"]["run_id"])
            assert answer["run"]["info"]["artifact_uri"] == f"mlflow-artifacts:/{w.exp}/{getattr(w, attr)}/artifacts"
        assert _call(w, "POST", "/api/2.0/mlflow/runs/log-metric", JSON_CT,
                     json.dumps({"run_id": w.run, "key": "m", "value": 1.5, "timestamp": 1}).encode()).status == 200
        assert _call(w, "PUT", f"{ART}/{w.run_root}/model/model.txt", body=b"legit").status == 200
        # symlinks an attacker with some foothold (or a careless operator) left inside the destination
        (dest / "out_dir").symlink_to(canary, target_is_directory=True)
        (dest / "out_file").symlink_to(canary / "secret.txt")
        (dest / "dangling").symlink_to(canary / "not-there-yet.txt")
        run_dir = dest / w.run_root
        (run_dir / "escape").symlink_to(canary, target_is_directory=True)
        (run_dir / "escape_file").symlink_to(canary / "secret.txt")
        (dest / w.exp / w.run2).mkdir(parents=True)
        (dest / w.exp / w.run2 / "artifacts").symlink_to(canary, target_is_directory=True)
        yield w
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, server.log_tail(80)


# ---- state snapshots -----------------------------------------------------------------------------
def _tree_state(root: Path) -> list[tuple]:
    """Every entry under ``root`` (links not followed): kind, link target or content hash."""
    out: list[tuple] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        for name in sorted(dirs + files):
            path = Path(current, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out.append((rel, "link", os.readlink(path)))
            elif path.is_dir():
                out.append((rel, "dir"))
            else:
                out.append((rel, "file", hashlib.sha256(path.read_bytes()).hexdigest()))
    return sorted(out)


def _db_state(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}
    finally:
        conn.close()


def _state(world: World) -> tuple:
    return _tree_state(world.dest), _tree_state(world.canary), _db_state(world.db)


def _assert_refused(world: World, method: str, target: str, headers: dict | None = None, body: bytes = b"",
                    status: int | None = None) -> dict:
    before = _state(world)
    answer = _call(world, method, target, headers, body)
    assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
    if status is not None:
        assert answer.status == status, answer.body[:300]
    assert answer.headers.get("content-type", "").startswith("application/json"), answer.headers
    error = answer.json()
    assert isinstance(error, dict) and isinstance(error.get("error_code"), str) and isinstance(error.get("message"), str)
    after = _state(world)
    assert after[0] == before[0], "the artifacts destination changed"
    assert after[1] == before[1], "the canary directory outside the destination changed"
    assert after[2] == before[2], "the database changed"
    return error


# ---- path traversal on every artifact route ------------------------------------------------------
# Raw URL path text as an attacker sends it; each one names ../canary/secret.txt (or a place outside)
# relative to the destination root, in another spelling.
TRAVERSALS = [
    "../canary/secret.txt",
    "..%2Fcanary%2Fsecret.txt",
    "%2e%2e/canary/secret.txt",
    "%2E%2E%2Fcanary%2Fsecret.txt",
    "%252e%252e/canary/secret.txt",
    "%25252e%25252e%25252fcanary/secret.txt",
    ".%2e/canary/secret.txt",
    "x/../../canary/secret.txt",
    "{run_root}/../../../../canary/secret.txt",
    "{run_root}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/canary/secret.txt",
    "%2F{canary}/secret.txt",
    "/{canary}/secret.txt",
    "..%5Ccanary%5Csecret.txt",
    "..\\canary\\secret.txt",
    "C:%5Cwindows%5Cwin.ini",
    "%3F/../../canary/secret.txt",
    "a%23/../../canary/secret.txt",
    "..;/../canary/secret.txt",
    "..%3B/../canary/secret.txt",
    "..?/../canary/secret.txt",
    "../canary/secret.txt#frag",
    "secret.txt%00.png",
    "..%00/canary/secret.txt",
    "model%00/../../canary/secret.txt",
]


def _payload(world: World, raw: str) -> str:
    return raw.replace("{run_root}", world.run_root).replace("{canary}", str(world.canary).lstrip("/"))


ROUTES = [
    ("PUT", ART + "/{p}", b"pwned"),
    ("GET", ART + "/{p}", b""),
    ("DELETE", ART + "/{p}", b""),
    ("GET", ART + "?path={p}", b""),
    ("PUT", AJAX_ART + "/{p}", b"pwned"),
    ("GET", AJAX_ART + "/{p}", b""),
    ("POST", MPU + "/create/{p}", b'{"path": "f.bin", "num_parts": 1}'),
    ("POST", MPU + "/complete/{p}", b'{"path": "f.bin", "upload_id": "u", "parts": [{"part_number": 1, "etag": "e"}]}'),
    ("POST", MPU + "/abort/{p}", b'{"path": "f.bin", "upload_id": "u"}'),
    ("GET", "/get-artifact?run_id={run}&path={p}", b""),
    ("GET", "/api/2.0/mlflow/artifacts/list?run_id={run}&path={p}", b""),
]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1].split('{')[0]}")
@pytest.mark.parametrize("raw", TRAVERSALS)
def test_traversal_is_refused(world, route, raw):
    method, template, body = route
    target = template.replace("{p}", _payload(world, raw)).replace("{run}", world.run)
    _assert_refused(world, method, target, JSON_CT if method == "POST" else None, body)


def test_traversal_in_the_body_of_a_multipart_request(world):
    # (a local destination answers 501 to multipart, but the body's file name is checked on S3 too:
    # tests/server/test_proxy_artifacts.py::test_multipart_create_and_abort_by_hand)
    for name in ("../../canary/x", "..", "/etc/passwd", "a\x00b"):
        body = json.dumps({"path": name, "num_parts": 1}).encode()
        answer = _call(world, "POST", f"{MPU}/create/{world.run_root}", JSON_CT, body)
        assert answer.status in (400, 501) and answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE",
                                                                              "NOT_IMPLEMENTED")


# ---- symlinks in the destination -----------------------------------------------------------------
SYMLINK_CASES = [
    ("GET", ART + "/out_file", b""),
    ("GET", ART + "/out_dir/secret.txt", b""),
    ("GET", ART + "/out_dir/sub/secret2.txt", b""),
    ("GET", ART + "/dangling", b""),
    ("PUT", ART + "/out_file", b"pwned"),
    ("PUT", ART + "/out_dir/secret.txt", b"pwned"),
    ("PUT", ART + "/out_dir/new.txt", b"pwned"),
    ("PUT", ART + "/out_dir/newdir/new.txt", b"pwned"),
    ("PUT", ART + "/dangling", b"pwned"),
    ("DELETE", ART + "/out_file", b""),
    ("DELETE", ART + "/out_dir", b""),
    ("DELETE", ART + "/out_dir/secret.txt", b""),
    ("DELETE", ART + "/out_dir/sub", b""),
    ("DELETE", ART + "/dangling", b""),
    ("GET", ART + "?path=out_dir", b""),
    ("GET", ART + "?path=out_dir/sub", b""),
    ("POST", MPU + "/create/out_dir", b'{"path": "f.bin", "num_parts": 1}'),
    ("GET", ART + "/{run_root}/escape/secret.txt", b""),
    ("GET", ART + "/{run_root}/escape_file", b""),
    ("PUT", ART + "/{run_root}/escape/new.txt", b"pwned"),
    ("PUT", ART + "/{run_root}/escape_file", b"pwned"),
    ("DELETE", ART + "/{run_root}/escape", b""),
    ("DELETE", ART + "/{run_root}/escape_file", b""),
    ("GET", ART + "?path={run_root}/escape", b""),
    ("GET", "/get-artifact?run_id={run}&path=escape/secret.txt", b""),
    ("GET", "/get-artifact?run_id={run}&path=escape_file", b""),
    ("GET", "/api/2.0/mlflow/artifacts/list?run_id={run}&path=escape", b""),
    # a run whose whole artifacts directory leads out
    ("GET", "/get-artifact?run_id={run2}&path=secret.txt", b""),
    ("GET", "/api/2.0/mlflow/artifacts/list?run_id={run2}", b""),
    ("GET", ART + "?path={exp}/{run2}/artifacts", b""),
    ("PUT", ART + "/{exp}/{run2}/artifacts/new.txt", b"pwned"),
    ("GET", ART + "/{exp}/{run2}/artifacts/secret.txt", b""),
    ("DELETE", ART + "/{exp}/{run2}/artifacts/secret.txt", b""),
    ("DELETE", ART + "/{exp}/{run2}/artifacts", b""),
]


@pytest.mark.parametrize(("method", "template", "body"), SYMLINK_CASES,
                         ids=[f"{m} {t.split('/')[-1]}" for m, t, _ in SYMLINK_CASES])
def test_symlinks_never_lead_out(world, method, template, body):
    target = (template.replace("{run_root}", world.run_root).replace("{run2}", world.run2)
              .replace("{run}", world.run).replace("{exp}", world.exp))
    _assert_refused(world, method, target, JSON_CT if method == "POST" else None, body)


def test_listings_leave_out_links_that_lead_out(world):
    answer = _call(world, "GET", f"{ART}?path=")
    names = {f["path"] for f in answer.json().get("files", [])}
    assert names == {world.exp}
    answer = _call(world, "GET", f"{ART}?path={quote(world.run_root, safe='')}")
    assert {f["path"] for f in answer.json()["files"]} == {"model"}


def test_run_listing_leaves_out_links_that_lead_out(world):
    answer = _call(world, "GET", f"/api/2.0/mlflow/artifacts/list?run_id={world.run}")
    assert {f["path"] for f in answer.json()["files"]} == {"model"}


# ---- experiment artifact locations ---------------------------------------------------------------
LOCATIONS = [
    "{canary}",
    "file://{canary}",
    "file://{dest}/../canary",
    "{dest}/../canary",
    "/etc",
    "s3://someone-elses-bucket/x",
    "gs://bucket/x",
    "hdfs://namenode/x",
    "http://evil.example/api/2.0/mlflow-artifacts/artifacts/x",
    "mlflow-artifacts:/../../x",
    "mlflow-artifacts:/ok/../../../x",
    "mlflow-artifacts:/x\\..\\..\\y",
    "mlflow-artifacts:/x\x00y",
    "mlflow-artifacts:/%2e%2e/%2e%2e/x",
    "mlflow-artifacts://evil.example:443/x",
]


@pytest.mark.parametrize("location", LOCATIONS)
def test_experiment_artifact_location_outside_the_roots_is_refused(world, location):
    location = location.replace("{canary}", str(world.canary)).replace("{dest}", str(world.dest))
    body = json.dumps({"name": f"evil {location}", "artifact_location": location}).encode()
    _assert_refused(world, "POST", "/api/2.0/mlflow/experiments/create", JSON_CT, body)


# ---- bodies, headers, routes ---------------------------------------------------------------------
def _search(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


BODY_CASES = [
    ("malformed JSON", "POST", "/api/2.0/mlflow/experiments/create", JSON_CT, b'{"name": ', None),
    ("not an object", "POST", "/api/2.0/mlflow/runs/log-metric", JSON_CT, b'"just a string"', None),
    ("invalid UTF-8", "POST", "/api/2.0/mlflow/experiments/create", JSON_CT, b'{"name": "\xff\xfe"}', None),
    ("text/plain", "POST", "/api/2.0/mlflow/experiments/create", {"Content-Type": "text/plain"}, b'{"name": "x"}', None),
    ("form", "POST", "/api/2.0/mlflow/experiments/create",
     {"Content-Type": "application/x-www-form-urlencoded"}, b"name=x", None),
    ("no content type", "POST", "/api/2.0/mlflow/experiments/create", {}, b'{"name": "x"}', None),
    ("nested arrays 100k", "POST", "/api/2.0/mlflow/experiments/create", JSON_CT, b"[" * 100_000 + b"]" * 100_000, None),
    ("nested objects 100k", "POST", "/api/2.0/mlflow/experiments/create", JSON_CT,
     b'{"a":' * 100_000 + b"1" + b"}" * 100_000, None),
    ("20 MB body", "POST", "/api/2.0/mlflow/experiments/create", JSON_CT,
     b'{"name": "' + b"x" * (20 * 1024 * 1024) + b'"}', 413),
    ("20 MB chunked body", "POST", "/api/2.0/mlflow/experiments/create",
     {**JSON_CT, "Content-Length": None, "Transfer-Encoding": "chunked"}, None, 413),
    ("5 MB filter, runs", "POST", "/api/2.0/mlflow/runs/search", JSON_CT,
     _search(experiment_ids=["0"], filter="params.a = '" + "x" * (5 * 1024 * 1024) + "'"), None),
    ("5 MB filter, experiments", "POST", "/api/2.0/mlflow/experiments/search", JSON_CT,
     _search(max_results=10, filter="name = '" + "x" * (5 * 1024 * 1024) + "'"), None),
    ("10k order_by, runs", "POST", "/api/2.0/mlflow/runs/search", JSON_CT,
     _search(experiment_ids=["0"], order_by=["attributes.start_time DESC"] * 10_000), None),
    ("10k order_by, experiments", "POST", "/api/2.0/mlflow/experiments/search", JSON_CT,
     _search(max_results=10, order_by=["name"] * 10_000), None),
    ("huge max_results", "POST", "/api/2.0/mlflow/runs/search", JSON_CT,
     _search(experiment_ids=["0"], max_results=10**12), None),
    ("bad page token", "POST", "/api/2.0/mlflow/runs/search", JSON_CT,
     _search(experiment_ids=["0"], page_token="%%%not-a-token"), None),
]


def _chunked(size: int) -> bytes:
    block = b"x" * (1024 * 1024)
    body = b'{"name": "'
    chunks = [body] + [block] * (size // len(block)) + [b'"}']
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


@pytest.mark.parametrize(("method", "target", "headers", "body", "status"), [c[1:] for c in BODY_CASES],
                         ids=[c[0] for c in BODY_CASES])
def test_bad_bodies_are_refused(world, method, target, headers, body, status):
    if body is None:
        body = _chunked(20 * 1024 * 1024)
    _assert_refused(world, method, target, headers, body, status)


def _batch(world: World, **fields: Any) -> bytes:
    return json.dumps({"run_id": world.run, **fields}).encode()


def test_oversized_log_batch_is_refused_whole(world):
    metric = {"key": "m", "value": 2.0, "timestamp": 2}
    for fields in (
        {"metrics": [{**metric, "step": i} for i in range(1001)]},
        {"params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
        {"tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]},
        {"metrics": [{**metric, "step": i} for i in range(900)], "params": [{"key": f"p{i}", "value": "v"}
                                                                              for i in range(100)],
         "tags": [{"key": f"t{i}", "value": "v"} for i in range(100)]},
        {"tags": [{"key": "t" * 100_000, "value": "v"}]},
        {"metrics": [{**metric, "key": "k" * 100_000}]},
    ):
        _assert_refused(world, "POST", "/api/2.0/mlflow/runs/log-batch", JSON_CT, _batch(world, **fields))


HEADER_CASES = [
    ("foreign Host", "GET", "/api/2.0/mlflow/experiments/search?max_results=1", {"Host": "evil.example"}, b""),
    ("foreign Host with port", "GET", "/health", {"Host": "attacker.example:5000"}, b""),
    ("no Host", "GET", "/api/2.0/mlflow/experiments/search?max_results=1", {"Host": None}, b""),
    ("foreign Host, upload", "PUT", ART + "/rebind.txt", {"Host": "evil.example"}, b"pwned"),
    ("cross-origin text/plain POST", "POST", "/api/2.0/mlflow/experiments/create",
     {"Origin": "http://evil.example", "Content-Type": "text/plain"}, b'{"name": "csrf"}'),
    ("cross-origin JSON POST", "POST", "/api/2.0/mlflow/experiments/create",
     {"Origin": "https://evil.example", **JSON_CT}, b'{"name": "csrf"}'),
    ("cross-origin upload", "PUT", ART + "/csrf.txt", {"Origin": "http://evil.example", "Content-Type": "text/plain"},
     b"pwned"),
    ("cross-origin delete", "DELETE", ART + "/{run_root}/model/model.txt", {"Origin": "http://evil.example"}, b""),
    ("null origin", "POST", "/api/2.0/mlflow/experiments/create", {"Origin": "null", **JSON_CT}, b'{"name": "n"}'),
    ("cross-site fetch metadata", "POST", "/api/2.0/mlflow/experiments/create",
     {"Sec-Fetch-Site": "cross-site", **JSON_CT}, b'{"name": "s"}'),
    ("cross-origin preflight", "OPTIONS", "/api/2.0/mlflow/experiments/create",
     {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}, b""),
]


@pytest.mark.parametrize(("method", "target", "headers", "body"), [c[1:] for c in HEADER_CASES],
                         ids=[c[0] for c in HEADER_CASES])
def test_hostile_headers_are_refused(world, method, target, headers, body):
    error = _assert_refused(world, method, target.replace("{run_root}", world.run_root), headers, body, 403)
    assert error["error_code"] == "PERMISSION_DENIED"


ROUTE_CASES = [
    ("GET", "/api/2.0/mlflow/no-such-endpoint", 404),
    ("GET", "/<script>alert(1)</script>", 404),
    ("GET", "/%3Cscript%3Ealert(1)%3C/script%3E", 404),
    ("GET", "/api/2.0/mlflow/%3Cimg%20src=x%20onerror=alert(1)%3E", 404),
    ("POST", "/api/9.9/mlflow/experiments/create", 404),
    ("GET", "/api/2.0/mlflow-artifacts/no-such-thing", 404),
    ("DELETE", "/api/2.0/mlflow/experiments/create", 405),
    ("PATCH", ART + "/x.txt", 405),
    ("POST", ART + "/x.txt", 405),
    ("PUT", "/get-artifact", 405),
    ("GET", "/get-artifact?path=x", 400),
    ("GET", "/get-artifact?run_id=nope&path=x", 404),
    ("GET", "/get-artifact?run_id={run}", 400),
    ("GET", "/api/2.0/mlflow/experiments/get?experiment_id=%3Cscript%3E", None),
    ("GET", "/api/2.0/mlflow/runs/get?run_id=%3Cscript%3Ealert(1)%3C/script%3E", 404),
]


@pytest.mark.parametrize(("method", "target", "status"), ROUTE_CASES, ids=[f"{m} {t}" for m, t, _ in ROUTE_CASES])
def test_unknown_routes_and_methods_answer_json(world, method, target, status):
    _assert_refused(world, method, target.replace("{run}", world.run), JSON_CT if method == "POST" else None,
                    b"{}" if method in ("POST", "PUT") else b"", status)


@pytest.mark.parametrize("path", ["n" * 300 + ".txt", "d/" * 2100 + "f.txt", "x" * 5000, "%C0%AE%C0%AE/" * 700 + "f"])
def test_paths_too_long_for_the_filesystem_are_refused_before_anything_is_made(world, path):
    _assert_refused(world, "PUT", f"{ART}/{path}", None, b"data", 400)
    _assert_refused(world, "GET", f"{ART}/{path}", None, b"")


def test_the_server_still_serves_the_legit_run(world):
    got = _call(world, "GET", f"{ART}/{world.run_root}/model/model.txt")
    assert (got.status, got.body) == (200, b"legit")
    assert (world.canary / "secret.txt").read_text() == "top secret"
