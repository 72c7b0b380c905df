"""fluvial's revision chain: one module per MLflow revision (same id, same ``down_revision``), each
reproducing the effect of MLflow's migration of that id. Written for fluvial; see ``migrations``."""
