"""Benchmarks that run the same workload with fluvial and with MLflow 2.22.5, side by side.

``python -m bench`` runs them all (``make bench``); ``python -m bench log_metric search_runs`` runs some.
Each side runs in a fresh subprocess of its own virtualenv, in a fresh temporary directory with a
fresh ``sqlite:///`` database. Results are printed and written to ``docs/benchmarks.md``.

Modules:
  _harness.py     locating the two Pythons, running workloads, result rows, the docs table
  _workload.py    the one workload script both sides run (``import <module> as mlflow``)
  _log_calls.py   log_metric / log_param beside two raw sqlite3 floors
  log_ladder.py   where a log_metric / log_param call's time goes (``python -m bench.log_ladder``; not run by ``python -m bench``)
  import_time.py, log_metric.py, log_param.py, async_logging.py, log_batch.py, search_runs.py, server_tracking.py, serving.py, autolog.py, ui_browser.py, recipes.py, journal.py, auth.py   one benchmark each
"""

BENCHMARKS = ("import_time", "log_metric", "log_param", "async_logging", "log_batch", "search_runs", "server_tracking", "server_artifacts", "models", "serving", "autolog", "ui_browser", "recipes", "journal", "auth")
