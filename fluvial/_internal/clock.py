"""Milliseconds since the epoch, the unit of every timestamp on the wire and in the database."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
