"""``fluvial._internal.environ.getenv`` answers exactly as ``os.environ.get``, changes included."""

from __future__ import annotations

import os

from fluvial._internal.environ import getenv


def test_getenv_matches_os_environ(monkeypatch):
    name = "FLUVIAL_TEST_GETENV_VARIABLE"
    monkeypatch.delenv(name, raising=False)
    assert getenv(name) is None and os.environ.get(name) is None
    monkeypatch.setenv(name, "déjà vu")
    assert getenv(name) == os.environ.get(name) == "déjà vu"
    os.environ[name] = ""
    assert getenv(name) == ""
    del os.environ[name]
    assert getenv(name) is None
