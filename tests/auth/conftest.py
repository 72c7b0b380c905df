"""The auth tests share the server helpers of tests/server (``_serve``) and of tests/compat (``_mlflow``, ``_servers``)."""

from __future__ import annotations

import sys
from pathlib import Path

for _folder in ("server", "compat"):
    _path = str(Path(__file__).resolve().parents[1] / _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)
