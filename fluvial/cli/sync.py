"""``fluvial sync [DIR]``: send a journal (journal mode, docs/journal.md) to its tracking server."""

from __future__ import annotations

import os

import click

from fluvial.cli._common import echo_progress, fail


@click.command("sync")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--tracking-uri", default=None,
              help="Server to send to (default: MLFLOW_TRACKING_URI, else the URI the journal was written for).")
def sync(directory: str | None, tracking_uri: str | None) -> None:
    """Replay the journal in DIRECTORY (default: FLUVIAL_JOURNAL_DIR) to the tracking server, in order and
    exactly once; safe to run again after any failure. Prints the local -> server run id mapping."""
    from fluvial.store.tracking.journal import fast_failing_rest_store
    from fluvial.store.tracking.journal.db import JOURNAL_FILE, Journal
    from fluvial.store.tracking.journal.sender import JournalBusy, Replayer, ServerUnavailable
    from fluvial.store.tracking.rest import RestTrackingStore

    directory = directory or os.environ.get("FLUVIAL_JOURNAL_DIR")
    if not directory:
        fail("no journal directory: pass DIRECTORY or set FLUVIAL_JOURNAL_DIR")
        return
    if not os.path.isfile(os.path.join(directory, JOURNAL_FILE)):
        fail(f"{directory} holds no journal ({JOURNAL_FILE} not found); pass the FLUVIAL_JOURNAL_DIR the "
             "training program used")
        return
    journal = Journal(directory)
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or journal.get_meta("tracking_uri")
    if not uri or not uri.startswith(("http://", "https://")):
        fail(f"cannot sync to {uri!r}: set MLFLOW_TRACKING_URI (or --tracking-uri) to the http(s) URI of the server")
        return
    store = fast_failing_rest_store(RestTrackingStore(uri))
    replayer = Replayer(journal, store, uri)
    pending = journal.counts()["pending"]
    echo_progress(f"Sending {pending} journal entries from {journal.directory} to {uri}")
    last = [0]

    def progress(sent: int) -> None:
        if sent - last[0] >= 1000:
            last[0] = sent
            echo_progress(f"  {sent}/{pending} sent")

    try:
        replayer.drain(progress)
        uploaded = replayer.upload_all()
    except JournalBusy:
        fail(f"another process is sending the journal in {journal.directory} right now (the training program's "
             "sender or another fluvial sync); run fluvial sync again when it has finished")
        return
    except ServerUnavailable as exc:
        fail(f"cannot reach the tracking server at {uri} ({exc}); {replayer.sent} entries sent, "
             f"{journal.counts()['pending']} still pending. Start the server (or set MLFLOW_TRACKING_URI / "
             "--tracking-uri to where it runs) and run fluvial sync again")
        return
    counts = journal.counts()
    echo_progress(f"Done: {replayer.sent} entries sent, {uploaded} artifact files uploaded, "
                  f"{counts['rejected']} rejected by the server in total, {counts['pending']} pending")
    for local_id, server_id in journal.query("SELECT local_id, server_id FROM runs ORDER BY rowid"):
        click.echo(f"{local_id} -> {server_id or '(not created)'}")
    if counts["rejected"]:
        fail(f"{counts['rejected']} journal entries were rejected by the server; see the 'error' column of the "
             f"entries table in {journal.path}")
