"""Serving the web UI's files: ``/`` answers the page shell, ``/ui-assets/<hash>/<file>`` the ES modules,
CSS and vendored libraries.

All files are read once when the app is built. ``<hash>`` is a content hash over every file, so an asset
URL never changes meaning and is cached ``immutable``; the shell (``/``) is ``no-cache`` and names the
current hash. Relative ``import`` paths between modules keep working because every file of one build
shares the same hashed folder. Text assets are gzip-compressed once, up front, and sent with
``Content-Encoding: gzip`` to clients that accept it. Every response carries a strict
Content-Security-Policy (no inline scripts or styles) and ``X-Content-Type-Options: nosniff``."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from fluvial.server.routes import GuardedRoute, route
from fluvial.wire.access import USER

UI_DIR = Path(__file__).resolve().parent
ASSET_BASE = "/ui-assets"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'self'")

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".md": "text/plain; charset=utf-8",
}
_SERVED = {".js", ".css", ".svg", ".png", ".ico"}
_COMMON = {"x-content-type-options": "nosniff", "content-security-policy": CSP,
           "referrer-policy": "same-origin", "vary": "Accept-Encoding"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gz: bytes | None
    content_type: str


@dataclass(frozen=True)
class Bundle:
    digest: str
    assets: dict[str, Asset]
    shell: str


def _compress(body: bytes, content_type: str) -> bytes | None:
    if not content_type.startswith(("text/", "image/svg")) or len(body) < 256:
        return None
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return packed if len(packed) < len(body) else None


def load_bundle(root: Path = UI_DIR) -> Bundle:
    """Read every served file under ``root``; the digest covers names and contents."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _SERVED)
    digest = hashlib.sha256()
    assets: dict[str, Asset] = {}
    for path in files:
        name = path.relative_to(root).as_posix()
        body = path.read_bytes()
        digest.update(name.encode() + b"\0" + body + b"\0")
        content_type = _TYPES[path.suffix]
        assets[name] = Asset(body, _compress(body, content_type), content_type)
    shell = (root / "index.html").read_text(encoding="utf-8")
    return Bundle(digest.hexdigest()[:16], assets, shell)


def gzip_size(bundle: Bundle) -> int:
    """Bytes a browser downloads for the whole UI (gzip where it applies)."""
    return sum(len(a.gz if a.gz is not None else a.body) for a in bundle.assets.values())


def _accepts_gzip(request: Request) -> bool:
    return any(part.split(";")[0].strip() == "gzip" for part in request.headers.get("accept-encoding", "").split(","))


def routes(prefix: str = "") -> list[GuardedRoute]:
    """Starlette routes for the UI under ``prefix`` (the server's ``--static-prefix``); with auth on, for
    signed-in users only (browsers without a session are sent to the login page)."""
    bundle = load_bundle()
    base = f"{prefix}{ASSET_BASE}/{bundle.digest}"
    shell = (bundle.shell.replace("{{ASSETS}}", base).replace("{{PREFIX}}", prefix)).encode()

    async def index(_: Request) -> Response:
        return Response(shell, media_type="text/html; charset=utf-8",
                        headers={**_COMMON, "cache-control": "no-cache"})

    async def asset(request: Request) -> Response:
        name = request.path_params["path"]
        found = bundle.assets.get(name)
        if found is None or request.path_params["digest"] != bundle.digest:
            return Response(b"Not found", status_code=404, media_type="text/plain",
                            headers={**_COMMON, "cache-control": "no-store"})
        headers = {**_COMMON, "cache-control": "public, max-age=31536000, immutable",
                   "content-type": found.content_type}
        if found.gz is not None and _accepts_gzip(request):
            return Response(found.gz, headers={**headers, "content-encoding": "gzip"})
        return Response(found.body, headers=headers)

    return [
        route(prefix + "/", index, ["GET", "HEAD"], USER),
        route(prefix + ASSET_BASE + "/{digest}/{path:path}", asset, ["GET", "HEAD"], USER),
    ]
