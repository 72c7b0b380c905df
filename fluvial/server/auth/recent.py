"""Short-lived per-worker memory of auth decisions, so that a request whose credential and grant were
looked up a moment ago costs no database query.

Keys derived from secrets (an ``Authorization`` header, a session cookie, a password) are keyed BLAKE2b
digests (BLAKE2's MAC mode) under a random key made when the worker starts (``Keyed``): the cache never holds a password
or token, nor an unkeyed hash of one, and computing the key takes the same time whatever the secret.
Entries expire ``ttl`` seconds after they were stored, so a change made in the database (a password,
the admin flag, a deleted user or token, a grant) is seen by every worker within ``ttl`` seconds; the
worker that made the change through the API forgets at once (``clear``)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Any


class Keyed:
    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def digest(self, *parts: str) -> bytes:
        return hashlib.blake2b("\0".join(parts).encode("utf-8", "surrogatepass"), key=self._key,
                               digest_size=32).digest()


class Recent:
    """A mapping whose entries live ``ttl`` seconds (0: nothing is kept); at most ``size`` entries."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, max(size, 1)
        self.data: dict[Any, tuple[float, Any]] = {}
        self.lock = threading.Lock()  # writers only; readers see one dict or the next

    def get(self, key: Any, default: Any = None) -> Any:
        found = self.data.get(key)
        if found is None or found[0] <= time.monotonic():
            return default
        return found[1]

    def __contains__(self, key: Any) -> bool:
        found = self.data.get(key)
        return found is not None and found[0] > time.monotonic()

    def put(self, key: Any, value: Any) -> None:
        if self.ttl <= 0:
            return
        now = time.monotonic()
        with self.lock:
            if len(self.data) >= self.size:
                kept = {k: v for k, v in self.data.items() if v[0] > now}
                self.data = kept if len(kept) < self.size else {}
            self.data[key] = (now + self.ttl, value)

    def pop(self, key: Any) -> None:
        with self.lock:
            self.data.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self.data = {}
