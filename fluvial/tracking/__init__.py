"""The tracking client: ``MlflowClient`` and the fluent API's machinery."""

from fluvial.tracking._stores import get_tracking_uri, is_tracking_uri_set, set_tracking_uri
from fluvial.tracking.client import MlflowClient

__all__ = ["MlflowClient", "get_tracking_uri", "is_tracking_uri_set", "set_tracking_uri"]
