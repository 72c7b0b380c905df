"""Around every REST handler when auth is on: the permission check before it, and after it ownership
grants, grant moves, audit entries and search results filtered to what the caller may read.

Filtered searches page correctly: the store is read page by page until ``max_results`` readable items
are found, and the next page token says where in which store page to resume, so a page is never empty
unless the search is, and nothing counts hidden items."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson

from fluvial.exceptions import InvalidParameterValue, Unauthenticated
from fluvial.server.auth.check import CURRENT, Authority, Caller
from fluvial.wire.access import FILTERS
from fluvial.wire.endpoints import Endpoint

Call = Callable[[dict[str, Any]], dict[str, Any]]
_TOKEN_TAG = "fluvial-auth-page"
_DEFAULT_PAGE = {"experiments": 1000, "registered_models": 100, "model_versions": 10_000}
_KIND = {"experiments": "experiment", "registered_models": "model", "model_versions": "model"}
_MAX_STORE_PAGES = 10_000
_AUDIT_FIELDS = ("experiment_id", "run_id", "name", "version", "model_id", "alias", "key", "new_name", "username",
                 "permission", "is_admin", "token_id", "resource_type", "resource_id")
_AUDITED = {"RenameRegisteredModel", "UpdateExperiment", "CreateToken", "RevokeToken"}


def _encode_token(store_token: str | None, skip: int) -> str:
    raw = orjson.dumps({"t": _TOKEN_TAG, "p": store_token, "s": skip})
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_token(token: str | None) -> tuple[str | None, int]:
    if not token:
        return None, 0
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError, orjson.JSONDecodeError):
        return token, 0  # a store token (from before auth was on): the store checks it
    if not isinstance(data, dict) or data.get("t") != _TOKEN_TAG:
        return token, 0
    store_token, skip = data.get("p"), data.get("s")
    if not (store_token is None or isinstance(store_token, str)) or not isinstance(skip, int) or skip < 0:
        raise InvalidParameterValue("Invalid page token.")
    return store_token, skip


class Guard:
    def __init__(self, authority: Authority) -> None:
        self.authority = authority
        self.store = authority.store

    def __call__(self, endpoint: Endpoint, req: dict[str, Any], call: Call) -> dict[str, Any]:
        caller = CURRENT.get()
        access = endpoint.access
        if access is None:  # create_app refuses such tables; never allow
            raise Unauthenticated("This endpoint declares no permission.")
        if access.level != "public":
            if caller is None:
                raise Unauthenticated("You are not authenticated.")
            self.authority.require(caller, access, req)
        if access.filter is not None and caller is not None and not caller.is_admin:
            return self._filtered(caller, access.filter, req, call)
        result = call(req)
        if caller is not None:
            self._after(caller, endpoint, req, result)
        return result

    def _filtered(self, caller: Caller, kind: str, req: dict[str, Any], call: Call) -> dict[str, Any]:
        key = FILTERS[kind]
        size = req.get("max_results") or _DEFAULT_PAGE[kind]
        store_token, skip = _decode_token(req.get("page_token"))
        found: list[dict[str, Any]] = []
        for _ in range(_MAX_STORE_PAGES):
            page = call({**{k: v for k, v in req.items() if k != "page_token"}, "max_results": size,
                         **({"page_token": store_token} if store_token else {})})
            items = page.get(kind) or []
            allowed = self.authority.readable(caller, _KIND[kind], [str(i.get(key)) for i in items])
            for index in range(skip, len(items)):
                if str(items[index].get(key)) in allowed:
                    if len(found) == size:  # one more readable item exists: the next page starts here
                        return {kind: found, "next_page_token": _encode_token(store_token, index)}
                    found.append(items[index])
            store_token, skip = page.get("next_page_token"), 0
            if not store_token:
                return {kind: found} if found else {}
        return {kind: found, "next_page_token": _encode_token(store_token, 0)}

    def _after(self, caller: Caller, endpoint: Endpoint, req: dict[str, Any], result: dict[str, Any]) -> None:
        name = endpoint.name
        if name == "CreateExperiment":
            self.store.set_grant("experiment", str(result["experiment_id"]), caller.id, "MANAGE")
        elif name == "CreateRegisteredModel":
            self.store.set_grant("model", result["registered_model"]["name"], caller.id, "MANAGE")
        elif name == "RenameRegisteredModel":
            self.store.rename_model_grants(req["name"], req["new_name"])
        elif name == "DeleteRegisteredModel":
            self.store.drop_model_grants(req["name"])
        access = endpoint.access
        if access is not None and endpoint.method != "GET" and (
                access.level in ("manage", "admin", "self") or name in _AUDITED):
            target = ", ".join(f"{k}={req[k]}" for k in _AUDIT_FIELDS if req.get(k) not in (None, ""))
            self.store.audit(caller.username, name, target)
            self.authority.forget()  # grants, passwords, users, tokens: this worker sees the change at once
        elif name in ("CreateExperiment", "CreateRegisteredModel"):
            self.authority.forget()
