"""How the UI's files are served: the shell at /, hashed immutable assets, gzip, CSP and nosniff, the
size budget, and vendored files matching VENDOR.md."""

from __future__ import annotations

import gzip
import hashlib
import re
import urllib.request
from pathlib import Path
from typing import Any

from fluvial.server.ui import assets

UI = Path(assets.__file__).parent


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_shell_headers_and_no_inline_code(ui_server: Any) -> None:
    status, headers, body = get(ui_server.url + "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert headers["x-content-type-options"] == "nosniff"
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert "object-src 'none'" in csp and "frame-ancestors 'self'" in csp
    assert headers["cache-control"] == "no-cache"
    html = body.decode()
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert scripts and all(not s.strip() for s in scripts), "inline script in the shell"
    assert "<style" not in html and " style=" not in html
    assert re.search(r'src="/ui-assets/[0-9a-f]{16}/main\.js"', html)


def test_assets_hashed_immutable_and_gzipped(ui_server: Any) -> None:
    _, _, body = get(ui_server.url + "/")
    base = re.search(r'src="(/ui-assets/[0-9a-f]{16})/main\.js"', body.decode()).group(1)
    status, headers, raw = get(ui_server.url + base + "/vendor/uplot.js", {"Accept-Encoding": "gzip, br"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "immutable" in headers["cache-control"] and "max-age=31536000" in headers["cache-control"]
    assert headers["content-type"].startswith("text/javascript")
    assert headers["x-content-type-options"] == "nosniff"
    assert gzip.decompress(raw) == (UI / "vendor" / "uplot.js").read_bytes()
    status, headers, plain = get(ui_server.url + base + "/vendor/uplot.js", {"Accept-Encoding": "identity"})
    assert "content-encoding" not in headers and plain == (UI / "vendor" / "uplot.js").read_bytes()
    # a stale hash, an unknown file and Python sources are not served
    for path in ("/ui-assets/0000000000000000/main.js", base + "/nope.js", base + "/assets.py", base + "/../assets.py"):
        assert get(ui_server.url + path)[0] == 404, path


def test_hash_changes_with_content(tmp_path: Path) -> None:
    for name in ("index.html", "main.js"):
        (tmp_path / name).write_text((UI / name).read_text())
    first = assets.load_bundle(tmp_path).digest
    (tmp_path / "main.js").write_text((UI / "main.js").read_text() + "\n// changed\n")
    assert assets.load_bundle(tmp_path).digest != first


def test_size_budget() -> None:
    size = assets.gzip_size(assets.load_bundle())
    assert size < 200 * 1024, f"the UI is {size} bytes gzipped; the budget is 200 KB"


def test_vendored_files_match_vendor_md() -> None:
    listed = dict(re.findall(r"^- `([^`]+)` ([0-9a-f]{64})$", (UI / "vendor" / "VENDOR.md").read_text(), re.M))
    served = {p.name for p in (UI / "vendor").iterdir() if p.suffix in (".js", ".css")}
    assert set(listed) == served
    for name, digest in listed.items():
        assert hashlib.sha256((UI / "vendor" / name).read_bytes()).hexdigest() == digest, name
    for package in ("preact", "htm", "uplot"):
        assert (UI / "vendor" / f"LICENSE.{package}").stat().st_size > 500


def test_static_prefix(tmp_path: Path, browser: Any) -> None:
    from _serve import fluvial_server

    with fluvial_server(tmp_path, static_prefix="/mlflow") as server:
        status, _, body = get(server.url + "/mlflow/")
        assert status == 200 and 'content="/mlflow"' in body.decode()
        base = re.search(r'src="(/mlflow/ui-assets/[0-9a-f]{16})/main\.js"', body.decode()).group(1)
        assert get(server.url + base + "/lib.js")[0] == 200
        assert get(server.url + "/")[0] == 404
        context = browser.new_context()
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and "users/current" not in r.url else None)
            page.goto(server.url + "/mlflow/#/experiments/0")
            page.get_by_role("heading", name="Default").wait_for(timeout=15_000)
            page.get_by_text("0 runs").wait_for(timeout=15_000)
            assert errors == []
        finally:
            context.close()
