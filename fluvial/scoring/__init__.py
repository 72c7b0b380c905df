"""The model scoring server (``fluvial models serve``): ``/ping``, ``/health``, ``/version``,
``/invocations``, with MLflow's input formats and optional adaptive batching."""
