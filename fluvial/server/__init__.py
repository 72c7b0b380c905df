"""The tracking server (``fluvial server``). Importing this package loads nothing heavy; the app is
built by ``fluvial.server.app.create_app``."""

from __future__ import annotations

from typing import Any


def get_app_client(app_name: str, tracking_uri: str | None = None) -> Any:
    """The client of a server app, as ``mlflow.server.get_app_client``: ``"basic-auth"`` gives an
    :class:`fluvial.server.auth.client.AuthServiceClient` for ``tracking_uri`` (default: the current
    tracking URI), sending the same credentials as the tracking client."""
    if app_name != "basic-auth":
        from fluvial.exceptions import InvalidParameterValue

        raise InvalidParameterValue(f"Unknown app {app_name!r}; fluvial knows 'basic-auth'.")
    if tracking_uri is None:
        from fluvial.tracking import get_tracking_uri

        tracking_uri = get_tracking_uri()
    from fluvial.server.auth.client import AuthServiceClient

    return AuthServiceClient(tracking_uri)


__all__ = ["get_app_client"]
