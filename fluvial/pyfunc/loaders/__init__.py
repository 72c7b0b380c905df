"""pyfunc loader modules named in MLmodel files (``mlflow.pyfunc.loaders.*`` maps here)."""
