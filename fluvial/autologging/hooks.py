"""Run a function once a module has been imported: right away when it already is, otherwise as soon as
the import finishes (a finder on ``sys.meta_path`` wraps the module's loader).

``fluvial.autolog()`` uses this so that enabling autologging imports nothing: a library is patched when
the user imports it, not before.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

_logger = logging.getLogger(__name__)

Hook = Callable[[ModuleType], None]

_lock = threading.RLock()
_pending: dict[str, list[tuple[str, Hook]]] = {}  # module name -> [(owner, hook)]
_finder: _HookFinder | None = None
_executed: set[str] = set()  # modules whose code has run (their import may not have returned yet)


def when_imported(module: str, hook: Hook, owner: str = "") -> None:
    """Call ``hook(module)`` now if ``module`` is imported, else right after it is. ``owner`` names who
    registered it, for :func:`cancel`."""
    with _lock:
        loaded = sys.modules.get(module)
        if loaded is None or (_initializing(loaded) and module not in _executed):
            _pending.setdefault(module, []).append((owner, hook))
            _install()
            return
    _fire(loaded, [(owner, hook)])


def cancel(owner: str) -> None:
    """Forget the hooks ``owner`` registered that have not run yet."""
    with _lock:
        for module in list(_pending):
            _pending[module] = [(o, h) for o, h in _pending[module] if o != owner]
            if not _pending[module]:
                del _pending[module]


def pending(owner: str | None = None) -> list[str]:
    """Modules that still have hooks waiting (of ``owner``, or of anyone)."""
    with _lock:
        return sorted(m for m, hooks in _pending.items() if owner is None or any(o == owner for o, _ in hooks))


def _initializing(module: ModuleType) -> bool:
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _install() -> None:
    global _finder
    if _finder is None:
        _finder = _HookFinder()
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def _fire(module: ModuleType, hooks: list[tuple[str, Hook]]) -> None:
    for owner, hook in hooks:
        try:
            hook(module)
        except Exception as exc:  # a failing hook must not break the user's import
            _logger.warning("Could not enable %s autologging after importing %s: %s", owner or "the",
                            module.__name__, exc)


class _HookFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for a module with waiting hooks it asks the other finders for the spec and
    wraps its loader so the hooks run after the module has executed."""

    def __init__(self) -> None:
        self._busy = threading.local()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _pending or getattr(self._busy, "name", None) == fullname:
            return None
        self._busy.name = fullname
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.name = None
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _HookedLoader(spec.loader, fullname)
        return spec


class _HookedLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # the module's own code sees its real loader (importlib.resources and friends ask it)
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        with _lock:
            _executed.add(self._name)
            hooks = _pending.pop(self._name, [])
        _fire(module, hooks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
