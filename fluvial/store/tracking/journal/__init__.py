"""Journal mode: a durable local SQLite journal in front of a REST tracking store (see docs/journal.md).

``db`` owns the journal file, ``store`` the TrackingStore that appends to it, ``sender`` the replay
to the server (background thread and ``fluvial sync``)."""

from __future__ import annotations

import os

from fluvial.store.tracking.base import TrackingStore


def open_journal_store(inner: TrackingStore, directory: str | os.PathLike) -> TrackingStore:
    """``inner`` (the server's REST store) behind a journal in ``directory``; the background sender
    uses its own REST store whose requests fail fast (it does its own retrying)."""
    from fluvial.store.tracking.journal.db import Journal
    from fluvial.store.tracking.journal.store import JournalTrackingStore

    return JournalTrackingStore(inner, Journal(directory), sender_store=fast_failing_rest_store(inner))


def fast_failing_rest_store(inner: TrackingStore) -> TrackingStore:
    from fluvial.store.tracking.rest import RestTrackingStore
    from fluvial.transport.http import HttpTransport

    uri = getattr(inner, "store_uri", "")
    timeout = float(os.environ.get("FLUVIAL_JOURNAL_REQUEST_TIMEOUT", "30"))
    return RestTrackingStore(uri, transport=HttpTransport(max_retries=1, backoff_factor=0.5, timeout=timeout))
