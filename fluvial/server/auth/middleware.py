"""The ASGI layer that authenticates every request and checks the permission of routes outside the
REST table (the REST routes are checked by ``guard`` once their body is decoded).

A request's route is found the way the server will route it: the REST table first, then the
Starlette routes. Routes declared ``PUBLIC`` need nothing; every other path, including unknown ones,
needs a valid credential (401 otherwise; browsers asking for a page are sent to the login page
instead, so they never see a Basic-auth prompt)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from fluvial.exceptions import MlflowException
from fluvial.server.auth.check import CURRENT, Authority, Caller, TooManyFailures
from fluvial.server.routes import access_of
from fluvial.server.rpc import RpcApp
from fluvial.wire.access import Access

UNAUTHENTICATED = ("You are not authenticated. Send HTTP Basic credentials (MLFLOW_TRACKING_USERNAME/"
                   "MLFLOW_TRACKING_PASSWORD), a bearer token (MLFLOW_TRACKING_TOKEN) or log in at /login.")

_READ = frozenset((b"authorization", b"cookie", b"accept", b"sec-fetch-mode"))


class AuthMiddleware:
    def __init__(self, rpc: RpcApp, authority: Authority, routes: Sequence[BaseRoute], prefix: str = "") -> None:
        self.rpc, self.authority, self.routes = rpc, authority, list(routes)
        self.login_path = prefix + "/login"
        self.api_prefixes = ("/api/", prefix + "/ajax-api/")

    def _access(self, scope: Scope) -> tuple[Access | None, dict[str, Any], bool]:
        """(declared access, path parameters, whether the REST layer checks the resource)."""
        found = scope["fluvial.route"] = self.rpc._route(scope["path"], scope["method"])  # reused by RpcApp
        if found is not None and found[0] is not None:
            return found[0].access, {}, True
        # not in the REST table: the app's own routes (upload-artifact under /ajax-api/2.0/mlflow/ too)
        for r in self.routes:
            match, child = r.matches(scope)
            if match == Match.FULL:
                return access_of(r), dict(child.get("path_params", {})), False
        return None, {}, False

    async def _send(self, send: Send, status: int, code: str, message: str,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
        body = orjson.dumps({"error_code": code, "message": message})
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"), *(headers or [])]})
        await send({"type": "http.response.body", "body": body})

    async def _unauthenticated(self, scope: Scope, send: Send, headers: dict[str, str]) -> None:
        path = scope["path"]
        browser = "text/html" in headers.get("accept", "") or "sec-fetch-mode" in headers
        if browser and scope["method"] == "GET" and not path.startswith(self.api_prefixes):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + ("?" + query if query else "")
            location = f"{self.login_path}?next={quote(target, safe='')}"
            await send({"type": "http.response.start", "status": 302, "headers": [
                (b"location", location.encode("latin-1")), (b"content-length", b"0"), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": b""})
            return
        challenge = [] if browser else [(b"www-authenticate", b'Basic realm="mlflow"')]
        await self._send(send, 401, "UNAUTHENTICATED", UNAUTHENTICATED, challenge)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.rpc(scope, receive, send)
            return
        access, params, rest = self._access(scope)
        if access is not None and access.level == "public":
            token = CURRENT.set(None)
            try:
                await self.rpc(scope, receive, send)
            finally:
                CURRENT.reset(token)
            return
        if self.authority.custom is None:  # only what the built-in check and the 401 answer read
            headers = {k.lower().decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k.lower() in _READ}
        else:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = (scope.get("client") or ("", 0))[0]
        try:
            caller = self.authority.remembered(headers)  # accepted within the cache time: no query
            if caller is None and self.authority.may_need_kdf(headers):
                caller = await run_in_threadpool(self.authority.authenticate, headers, client)
            elif caller is None:  # a credential verified lately, a token or a session: one indexed lookup
                caller = self.authority.authenticate(headers, client)
        except TooManyFailures as exc:
            await self._send(send, 429, exc.error_code, exc.message, [(b"retry-after", str(exc.retry_after).encode())])
            return
        if caller is None:
            await self._unauthenticated(scope, send, headers)
            return
        if access is not None and not rest and access.resource is not None:
            pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            fields: dict[str, Any] = dict(pairs)  # the last of repeated keys, as Starlette's query_params
            if access.resource in ("runs", "experiments"):  # every id named, repeated keys included
                fields[access.field or ""] = [v for k, v in pairs if k == access.field]
            fields.update(params)
            try:
                await run_in_threadpool(self.authority.require, caller, access, fields)
            except MlflowException as exc:
                status = 403 if exc.error_code == "PERMISSION_DENIED" else exc.http_status
                await self._send(send, status, exc.error_code, exc.message)
                return
        elif access is not None and not rest and access.level in ("admin", "self"):
            try:
                self.authority.require(caller, access, {})
            except MlflowException as exc:
                await self._send(send, 403, exc.error_code, exc.message)
                return
        token = CURRENT.set(caller)
        try:
            if rest or scope["method"] != "DELETE":
                await self.rpc(scope, receive, send)
            else:  # artifact deletes outside the REST table go to the audit log too
                await self._audited(scope, receive, send, caller)
        finally:
            CURRENT.reset(token)

    async def _audited(self, scope: Scope, receive: Receive, send: Send, caller: Caller) -> None:
        """The route as usual; when it succeeds, the audit entry is written before the answer goes out."""

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                await run_in_threadpool(self.authority.store.audit, caller.username, "DeleteArtifact",
                                        f"path={scope['path'][:900]}")
            await send(message)

        await self.rpc(scope, receive, watch)
