"""The only place that knows MLflow's REST JSON: endpoint table, field types and entity codecs."""
