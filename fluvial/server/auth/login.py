"""The login page (``/login``: a small static HTML page with its own script, no inline code) and the
session endpoints ``POST /api/2.0/fluvial/users/login`` and ``.../users/logout`` (and their
``/ajax-api`` twins). A session is a short-lived fluvial token kept in an HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from fluvial.exceptions import InvalidParameterValue, MlflowException, Unauthenticated
from fluvial.server import adapter
from fluvial.server.auth.check import SESSION_COOKIE, Authority, TooManyFailures, cookie_value
from fluvial.server.routes import GuardedRoute, route
from fluvial.wire.access import PUBLIC

STATIC = Path(__file__).with_name("static")
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
_TYPES = {"login.js": "text/javascript", "login.css": "text/css"}


def _file(name: str, media_type: str) -> Response:
    return Response((STATIC / name).read_bytes(), media_type=media_type, headers={
        "Content-Security-Policy": _CSP, "Cache-Control": "no-cache", "X-Frame-Options": "DENY"})


def _session_cookie(request: Request, value: str, max_age: int) -> str:
    secure = "; Secure" if request.url.scheme == "https" else ""
    return f"{SESSION_COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"


def routes(authority: Authority, prefix: str) -> list[GuardedRoute]:
    store = authority.store
    ttl = authority.config.session_ttl_s

    async def page(_: Request) -> Response:
        return _file("login.html", "text/html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _TYPES:
            return adapter.json_error(404, "ENDPOINT_NOT_FOUND", "No such endpoint.")
        return _file(name, _TYPES[name])

    async def login(request: Request) -> Response:
        try:
            adapter.check_content_type(request.headers.get("content-type"))
            data: Any = await adapter.read_json_body(request, 64 * 1024)
            if not isinstance(data, dict) or not isinstance(data.get("username"), str) or not isinstance(
                    data.get("password"), str):
                raise InvalidParameterValue("Send {\"username\": ..., \"password\": ...} as JSON.")
            client = request.client.host if request.client else ""

            def verify() -> Any:
                user = store.get_user(data["username"])
                if user is None:
                    authority.unknown_user(client)
                    raise Unauthenticated("Wrong username or password.")
                if not authority.check_password(user, data["password"], client):
                    raise Unauthenticated("Wrong username or password.")
                _, token, _ = store.create_token(user.id, "login session", ttl, kind="session")
                store.audit(user.username, "Login", "", "session")
                return user, token

            user, token = await run_in_threadpool(verify)
        except TooManyFailures as exc:
            return Response(adapter.error_pair(429, exc.error_code, exc.message)[1], status_code=429,
                            media_type=adapter.JSON_TYPE, headers={"Retry-After": str(exc.retry_after)})
        except MlflowException as exc:
            return adapter.error_response(exc)
        response = Response(b'{"user": {"username": %s, "is_admin": %s}}' % (
            orjson.dumps(user.username), b"true" if user.is_admin else b"false"),
            media_type=adapter.JSON_TYPE, headers={"Cache-Control": "no-store"})
        response.headers["set-cookie"] = _session_cookie(request, token, int(ttl))
        return response

    async def logout(request: Request) -> Response:
        session = cookie_value(request.headers.get("cookie", ""), SESSION_COOKIE)
        if session:
            await run_in_threadpool(store.revoke_session, session)
            authority.forget()
        response = Response(b"{}", media_type=adapter.JSON_TYPE, headers={"Cache-Control": "no-store"})
        response.headers["set-cookie"] = _session_cookie(request, "", 0)
        return response

    out = [
        route(prefix + "/login", page, ["GET"], PUBLIC),
        route(prefix + "/login/{name}", asset, ["GET"], PUBLIC),
    ]
    for base in ("/api/2.0/fluvial/users", prefix + "/ajax-api/2.0/fluvial/users"):
        out += [route(base + "/login", login, ["POST"], PUBLIC), route(base + "/logout", logout, ["POST"], PUBLIC)]
    return out
