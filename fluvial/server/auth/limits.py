"""Failed logins, counted in the auth database (``fluvial_login_failures``) so that every worker of a
server and every replica sharing the database enforce one budget: ``--workers N`` does not give an
attacker N times the attempts.

A key is ``user:<name>`` (wrong passwords for that user) or ``ip:<address>`` (wrong passwords and
unknown users from that client). A key that collected its limit of failures within the sliding window
(``FAILURE_WINDOW_S``) is refused with 429 until the oldest of those failures leaves the window. The
table is read and written only when a password is really checked (the KDF runs) or a username is
unknown, never on the requests that a verified credential serves."""

from __future__ import annotations

import sqlalchemy as sa

from fluvial.exceptions import MlflowException
from fluvial.server.auth.store import AuthStore, login_failures, now_ms
from fluvial.store.tracking.sql.engine import read_connection, write_transaction

FAILURE_WINDOW_S = 300.0


class TooManyFailures(MlflowException):
    default_code = "REQUEST_LIMIT_EXCEEDED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins; retry in {retry_after} seconds.")
        self.retry_after = retry_after


class FailedLogins:
    def __init__(self, store: AuthStore, per_user: int, per_client: int,
                 window_s: float = FAILURE_WINDOW_S) -> None:
        self.store = store
        self.per_user, self.per_client = max(per_user, 1), max(per_client, 1)
        self.window_ms = int(window_s * 1000)

    def _limit(self, key: str) -> int:
        return self.per_user if key.startswith("user:") else self.per_client

    def retry_after(self, keys: list[str]) -> int:
        """Seconds until every key is below its limit again (0: none is at its limit)."""
        now = now_ms()
        worst = 0
        t = login_failures.c
        with read_connection(self.store.engine) as conn:
            for key in keys:
                # the limit-th newest failure in the window: while it exists, the key is at its limit
                nth = conn.execute(sa.select(t.time_ms).where(t.key == key[:300], t.time_ms > now - self.window_ms)
                                   .order_by(t.time_ms.desc()).limit(1).offset(self._limit(key) - 1)).scalar()
                if nth is not None:
                    worst = max(worst, self.window_ms - (now - int(nth)))
        return -(-worst // 1000) if worst > 0 else 0

    def add(self, keys: list[str]) -> None:
        now = now_ms()
        with write_transaction(self.store.engine) as conn:
            conn.execute(sa.delete(login_failures).where(login_failures.c.time_ms <= now - self.window_ms))
            conn.execute(sa.insert(login_failures), [{"key": key[:300], "time_ms": now} for key in keys])

    def check(self, keys: list[str]) -> None:
        """Raise TooManyFailures when any key is at its limit."""
        wait = self.retry_after(keys)
        if wait:
            raise TooManyFailures(wait)
