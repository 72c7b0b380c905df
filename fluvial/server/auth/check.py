"""Who is calling (authentication) and may they (authorization), decided from the route's ``Access``.

Credentials: HTTP Basic (MLflow's), ``Authorization: Bearer <token>`` (fluvial API tokens, what
``MLFLOW_TRACKING_TOKEN`` sends) and the login page's session cookie. The password KDF runs only when a
credential is first seen: a verified Basic credential is remembered for 5 minutes per worker, keyed by a
SHA-256 of the header and the stored hash (so a password change invalidates it at once). Each request
costs one indexed user lookup; grants are looked up per resource the request names.

Failed logins are rate limited per username and per client address (per worker)."""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fluvial.exceptions import InvalidParameterValue, MlflowException, PermissionDenied
from fluvial.server.auth import passwords
from fluvial.server.auth.config import AuthConfig
from fluvial.server.auth.resolve import ADMIN_ONLY, Resolver, Resource
from fluvial.server.auth.store import AuthStore, UserRow
from fluvial.server.config import Stores
from fluvial.server.handlers.limits import MAX_LISTED_IDS
from fluvial.wire.access import LEVELS, Access

RANKS = {"NO_PERMISSIONS": 0, "READ": 1, "EDIT": 2, "MANAGE": 3}
NEEDED = {level: i + 1 for i, level in enumerate(LEVELS)}
SESSION_COOKIE = "fluvial_session"
VERIFIED_TTL_S = 300.0
FAILURE_WINDOW_S = 300.0
CURRENT: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("fluvial_auth_caller", default=None)


@dataclass(frozen=True)
class Caller:
    id: int
    username: str
    is_admin: bool
    via: str  # "basic" | "token" | "session" | "custom"
    session: str | None = None


class TooManyFailures(MlflowException):
    default_code = "REQUEST_LIMIT_EXCEEDED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins; retry in {retry_after} seconds.")
        self.retry_after = retry_after


class _Failures:
    """Failed logins per key (``user:<name>``, ``ip:<address>``) in a sliding window."""

    def __init__(self, per_user: int, per_client: int) -> None:
        self.seen: dict[str, deque[float]] = {}
        self.lock = threading.Lock()
        self.per_user, self.per_client = max(per_user, 1), max(per_client, 1)

    def _limit(self, key: str) -> int:
        return self.per_user if key.startswith("user:") else self.per_client

    def retry_after(self, keys: list[str]) -> int:
        now = time.monotonic()
        with self.lock:
            worst = 0.0
            for key in keys:
                times = self.seen.get(key)
                while times and now - times[0] > FAILURE_WINDOW_S:
                    times.popleft()
                if times is not None and len(times) >= self._limit(key):
                    worst = max(worst, FAILURE_WINDOW_S - (now - times[0]))
            return int(worst) + 1 if worst else 0

    def add(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self.lock:
            if len(self.seen) > 100_000:
                self.seen.clear()
            for key in keys:
                times = self.seen.setdefault(key, deque(maxlen=self._limit(key)))
                times.append(now)


class Authority:
    def __init__(self, config: AuthConfig, store: AuthStore, stores: Stores,
                 custom: Callable[[dict[str, str]], str | None] | None = None) -> None:
        self.config, self.store, self.stores, self.custom = config, store, stores, custom
        self.default_rank = RANKS[config.default_permission]
        self.resolver = Resolver(stores)
        self.verified: dict[str, float] = {}
        self.recent_headers: dict[str, float] = {}  # digests of Basic headers verified lately (no KDF ahead)
        self.failures = _Failures(config.max_failed_logins_per_user, config.max_failed_logins_per_client)

    # ---- authentication -------------------------------------------------------------------------
    def may_need_kdf(self, headers: Mapping[str, str]) -> bool:
        """Whether authenticating these headers may run the password KDF (then: off the event loop)."""
        if self.custom is not None:
            return True
        header = headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            return False
        expires = self.recent_headers.get(hashlib.sha256(header.encode("latin-1", "replace")).hexdigest())
        return expires is None or expires <= time.monotonic()

    def authenticate(self, headers: Mapping[str, str], client: str = "") -> Caller | None:
        """The caller, or None (no or wrong credentials). Raises TooManyFailures."""
        if self.custom is not None:
            username = self.custom(dict(headers))
            user = self.store.get_user(username) if isinstance(username, str) else None
            return Caller(user.id, user.username, user.is_admin, "custom") if user else None
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
            self.failures.add([f"ip:{client}"])
            return None
        if self.check_password(user, password, client, header):
            return Caller(user.id, user.username, user.is_admin, "basic")
        return None

    def check_password(self, user: UserRow, password: str, client: str, header: str = "") -> bool:
        key = hashlib.sha256(f"{header or password}\0{user.username}\0{user.password_hash}".encode(
            "utf-8", "surrogatepass")).hexdigest()
        now = time.monotonic()
        expires = self.verified.get(key)
        if expires is not None and expires > now:
            return True
        keys = [f"user:{user.username}", f"ip:{client}"]
        wait = self.failures.retry_after(keys)
        if wait:
            raise TooManyFailures(wait)
        if not passwords.verify_password(user.password_hash, password):
            self.failures.add(keys)
            return False
        if len(self.verified) > 10_000:
            self.verified = {k: t for k, t in self.verified.items() if t > now}
            self.recent_headers = {k: t for k, t in self.recent_headers.items() if t > now}
        self.verified[key] = now + VERIFIED_TTL_S
        if header:
            self.recent_headers[hashlib.sha256(header.encode("latin-1", "replace")).hexdigest()] = now + VERIFIED_TTL_S
        return True

    # ---- authorization --------------------------------------------------------------------------
    def rank(self, caller: Caller, resource: Resource) -> int:
        kind, key = resource
        if kind == "admin":
            return 0
        granted = self.store.permission(kind, caller.id, key)
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
