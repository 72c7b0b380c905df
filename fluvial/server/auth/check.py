"""Who is calling (authentication) and may they (authorization), decided from the route's ``Access``.

Credentials: HTTP Basic (MLflow's), ``Authorization: Bearer <token>`` (fluvial API tokens, what
``MLFLOW_TRACKING_TOKEN`` sends) and the login page's session cookie.

What a request costs (``recent``): a credential seen within the last ``auth_cache_ttl_seconds`` (1 s
unless the auth config says otherwise) is answered from per-worker memory, and so is a grant looked up
within that time, so a busy client costs no auth query at all; a change made in the database (password,
admin flag, deleted user, revoked token or grant) is seen by every worker within that time, at once by
the worker that made it. Past that, one indexed user (or token) lookup and one grant lookup per
resource. The password KDF runs only when a Basic credential (or a login) is first seen: its success is
remembered for 5 minutes under a keyed hash (MAC) of the credential *and the stored hash*, so a password change
needs the KDF (and the new password) again at once; so is a failure (the same wrong credential sent again
is counted as a failed login without running the KDF again).

Failed logins are limited per username and per client address across all workers (``limits``)."""

from __future__ import annotations

import base64
import binascii
import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fluvial.exceptions import InvalidParameterValue, PermissionDenied
from fluvial.server.auth import passwords
from fluvial.server.auth.config import AuthConfig
from fluvial.server.auth.limits import FailedLogins, TooManyFailures
from fluvial.server.auth.recent import Keyed, Recent
from fluvial.server.auth.resolve import ADMIN_ONLY, Resolver, Resource
from fluvial.server.auth.store import AuthStore, UserRow
from fluvial.server.config import Stores
from fluvial.server.handlers.limits import MAX_LISTED_IDS
from fluvial.wire.access import LEVELS, TYPED, Access

__all__ = ["CURRENT", "Authority", "Caller", "TooManyFailures", "cookie_value", "typed_resource"]
RANKS = {"NO_PERMISSIONS": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}
NEEDED = {level: i + 1 for i, level in enumerate(LEVELS)}
SESSION_COOKIE = "fluvial_session"
VERIFIED_TTL_S = 300.0
CURRENT: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("fluvial_auth_caller", default=None)
_MISSING = object()


@dataclass(frozen=True)
class Caller:
    id: int
    username: str
    is_admin: bool
    via: str  # "basic" | "token" | "session" | "custom"
    session: str | None = None


class Authority:
    def __init__(self, config: AuthConfig, store: AuthStore, stores: Stores,
                 custom: Callable[[dict[str, str]], str | None] | None = None) -> None:
        self.config, self.store, self.stores, self.custom = config, store, stores, custom
        self.default_rank = RANKS[config.default_permission]
        self.resolver = Resolver(stores)
        self.keyed = Keyed()
        ttl, size = config.auth_cache_ttl_s, config.auth_cache_max_size
        self.callers = Recent(ttl, size)  # MAC(credential) -> Caller
        self.grants = Recent(ttl, size)  # (kind, user id, resource) -> permission name or None
        self.verified = Recent(VERIFIED_TTL_S, size)  # MAC(credential, username, stored hash): KDF passed
        self.recent_headers = Recent(VERIFIED_TTL_S, size)  # MAC(Basic header) verified lately: no KDF ahead
        self.rejected = Recent(VERIFIED_TTL_S, size)  # MAC(credential, username, stored hash): KDF said no
        self.failures = FailedLogins(store, config.max_failed_logins_per_user, config.max_failed_logins_per_client)

    # ---- authentication -------------------------------------------------------------------------
    def _credential_key(self, headers: Mapping[str, str]) -> bytes | None:
        header = headers.get("authorization", "")
        cookie = cookie_value(headers.get("cookie", ""), SESSION_COOKIE) if "cookie" in headers else None
        if not header and not cookie:
            return None
        return self.keyed.digest("credential", header, cookie or "")

    def remembered(self, headers: Mapping[str, str]) -> Caller | None:
        """The caller when these credentials were accepted within the cache time (no query, no KDF)."""
        if self.custom is not None:
            return None
        key = self._credential_key(headers)
        return self.callers.get(key) if key is not None else None

    def may_need_kdf(self, headers: Mapping[str, str]) -> bool:
        """Whether authenticating these headers may run the password KDF (then: off the event loop)."""
        if self.custom is not None:
            return True
        header = headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            return False
        return self.keyed.digest("basic", header) not in self.recent_headers

    def authenticate(self, headers: Mapping[str, str], client: str = "") -> Caller | None:
        """The caller, or None (no or wrong credentials). Raises TooManyFailures."""
        if self.custom is not None:
            username = self.custom(dict(headers))
            user = self.store.get_user(username) if isinstance(username, str) else None
            return Caller(user.id, user.username, user.is_admin, "custom") if user else None
        key = self._credential_key(headers)
        if key is None:
            return None
        caller = self.callers.get(key)
        if caller is None:
            caller = self._authenticate(headers, client)
            if caller is not None:
                self.callers.put(key, caller)
        return caller  # type: ignore[no-any-return]

    def _authenticate(self, headers: Mapping[str, str], client: str) -> Caller | None:
        header = headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return self._basic(header, value.strip(), client)
        if scheme == "bearer":
            user = self.store.token_user(value.strip())
            return Caller(user.id, user.username, user.is_admin, "token") if user else None
        cookie = cookie_value(headers.get("cookie", ""), SESSION_COOKIE)
        if cookie:
            user = self.store.token_user(cookie)
            return Caller(user.id, user.username, user.is_admin, "session", cookie) if user else None
        return None

    def _basic(self, header: str, value: str, client: str) -> Caller | None:
        try:
            username, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        if not sep or not username:
            return None
        user = self.store.get_user(username)
        if user is None:
            self.unknown_user(client)
            return None
        if self.check_password(user, password, client, header):
            return Caller(user.id, user.username, user.is_admin, "basic")
        return None

    def unknown_user(self, client: str) -> None:
        """A login naming no user: counted against the client address (429 once at its limit)."""
        keys = [f"ip:{client}"]
        self.failures.check(keys)
        self.failures.add(keys)

    def check_password(self, user: UserRow, password: str, client: str, header: str = "") -> bool:
        """Whether ``password`` (sent as ``header``, when given) is the user's. Raises TooManyFailures."""
        key = self.keyed.digest("verified", header or password, user.username, user.password_hash)
        if key in self.verified:
            return True
        keys = [f"user:{user.username}", f"ip:{client}"]
        self.failures.check(keys)
        rejected = self.keyed.digest("rejected", header or password, user.username, user.password_hash)
        # the same wrong credential again (a misconfigured client): counted, but no second KDF run
        if rejected in self.rejected or not passwords.verify_password(user.password_hash, password):
            self.failures.add(keys)
            self.rejected.put(rejected, True)
            if header:
                self.recent_headers.pop(self.keyed.digest("basic", header))
            return False
        self.verified.put(key, True)
        if header:
            self.recent_headers.put(self.keyed.digest("basic", header), True)
        return True

    def forget(self) -> None:
        """Drop this worker's remembered callers and grants (after a change through the API)."""
        self.callers.clear()
        self.grants.clear()

    # ---- authorization --------------------------------------------------------------------------
    def rank(self, caller: Caller, resource: Resource) -> int:
        kind, key = resource
        if kind == "admin":
            return 0
        granted = self.grants.get((kind, caller.id, key), _MISSING)
        if granted is _MISSING:
            granted = self.store.permission(kind, caller.id, key)
            self.grants.put((kind, caller.id, key), granted)
        return RANKS.get(granted, 0) if granted is not None else self.default_rank

    def resources(self, access: Access, fields: Mapping[str, Any]) -> list[Resource]:
        """The resources ``access`` applies to, from the request's (decoded) fields."""
        kind = access.resource
        value = fields.get(access.field or "")
        r = self.resolver
        if kind == "experiment":
            return [("experiment", str(value) if value not in (None, "") else "0")]
        if kind == "experiment_name":
            found = r.experiment_by_name(value)
            return [found] if found else []  # unknown: the handler answers 404
        if kind == "experiments":
            ids = _listed(value)
            return [("experiment", str(i)) for i in dict.fromkeys(ids)]
        if kind == "run":
            return r.run_resources(value if value else fields.get("run_uuid"))
        if kind == "runs":
            return [res for run_id in dict.fromkeys(_listed(value)) for res in r.run_resources(run_id)]
        if kind == "logged_model":
            return [("experiment", r.logged_model(value)[0])]
        if kind == "model":
            return [("model", value if isinstance(value, str) else "")]
        if kind == "artifact_path":
            return [r.artifact_path(value if value is not None else "")]
        if kind == "model_version_source":
            return [("model", value if isinstance(value, str) else "")]
        if kind == "typed":
            return [typed_resource(fields.get("resource_type"), value)]
        raise PermissionDenied("Permission denied.")  # unknown kind: never allow

    def require(self, caller: Caller, access: Access, fields: Mapping[str, Any]) -> None:
        """Raise PermissionDenied unless ``caller`` may do what ``access`` names."""
        if caller.is_admin or access.level in ("public", "user"):
            return
        if access.level == "admin":
            raise PermissionDenied("Permission denied.")
        if access.level == "self":
            if fields.get("username") != caller.username:
                raise PermissionDenied("Permission denied.")
            return
        needed = NEEDED[access.level]
        resources = self.resources(access, fields)
        if access.resource == "model_version_source":
            resources = [(k, v) for k, v in resources] + [
                (k, v) for k, v in self.resolver.source(dict(fields))]
            for resource in resources[1:]:
                if self.rank(caller, resource) < NEEDED["read"]:
                    raise PermissionDenied("Permission denied: the model version's source is not readable.")
            resources = resources[:1]
        for resource in resources:
            if resource == ADMIN_ONLY or self.rank(caller, resource) < needed:
                raise PermissionDenied("Permission denied.")

    def readable(self, caller: Caller, kind: str, keys: list[str]) -> set[str]:
        """Which of ``keys`` (experiment ids or model names) the caller may read."""
        if caller.is_admin:
            return set(keys)
        grants = self.store.permissions(kind, caller.id, list(dict.fromkeys(keys)))
        return {k for k in keys if (RANKS.get(grants[k], 0) if k in grants else self.default_rank) >= 1}


def typed_resource(resource_type: Any, resource_id: Any) -> Resource:
    """The grant kind and key named by MLflow 3's ``resource_type``/``resource_id``; 400 for what fluvial
    does not keep (MLflow 3's other resource types, wildcard grants: both need its roles)."""
    if resource_type not in TYPED:
        raise InvalidParameterValue(f"resource_type must be one of {', '.join(TYPED)}; fluvial keeps grants on "
                                    "experiments and registered models only.")
    if not isinstance(resource_id, str) or not resource_id or resource_id == "*":
        raise InvalidParameterValue("resource_id must name one experiment id or registered model name "
                                    "(wildcard grants need MLflow 3's roles, which fluvial does not have).")
    return (TYPED[resource_type], resource_id)


def _listed(value: Any) -> list[str]:
    ids = value if isinstance(value, list) else ([value] if value not in (None, "") else [])
    if len(ids) > MAX_LISTED_IDS:  # the REST routes were refused before; this covers the other routes
        raise InvalidParameterValue(f"A request may name at most {MAX_LISTED_IDS} experiments or runs.")
    return [str(i) for i in ids]


def cookie_value(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None
