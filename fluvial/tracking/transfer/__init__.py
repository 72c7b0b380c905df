"""``fluvial export`` / ``fluvial import``: move experiments, runs and registered models between any two
tracking URIs (SQL store or MLflow-API server) through a portable directory (docs/journal.md,
"Export and import"). Only :class:`~fluvial.tracking.client.MlflowClient` calls are used on both sides."""
