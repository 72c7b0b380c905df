"""Safe patching: replacing a library function or method with one that autologs around the original,
such that autologging can never break the user's call, and undoing it.

``safe_patch(integration, target, name, patch_fn, session=True)`` installs a wrapper for
``target.<name>``. When called, the wrapper:

- calls the original untouched when the integration is disabled, when autologging is switched off in
  this thread (:func:`autologging_disabled`), or when it runs inside another autologged call (the
  library calling itself, e.g. a grid search fitting its candidates, or one library calling another);
  ``nested=True`` lets a patch of the same integration run inside its parent's session instead;
- with ``session=True`` opens an :class:`~fluvial.autologging.session.AutologSession` (a run is created
  when none is active), calls ``patch_fn(session, original, *args, **kwargs)`` and closes the session:
  the run ends FINISHED, or FAILED when the original raised;
- with ``session=False`` calls ``patch_fn(original, *args, **kwargs)``;
- with ``skip=`` a predicate of the call's arguments, calls the original untouched (no run is created)
  when ``skip(*args, **kwargs)`` is true.

An exception from the original propagates unchanged. Any other exception (autologging's own) is logged
as a warning, and the user gets the original's result: the one already computed, or, if the failure came
before the original ran, a fresh call of it. The original is never run twice.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fluvial.autologging import config as _config

_logger = logging.getLogger("fluvial.autologging")

_MISSING = object()
_lock = threading.RLock()
_patches: dict[str, list[_Patch]] = {}
_local = threading.local()


# ---- per-thread state ----------------------------------------------------------------------------
def _sessions() -> list[Any]:
    stack = getattr(_local, "sessions", None)
    if stack is None:
        stack = _local.sessions = []
    return stack


def current_session() -> Any:
    """The innermost autologging session of this thread, or None."""
    stack = _sessions()
    return stack[-1] if stack else None


@contextlib.contextmanager
def autologging_disabled() -> Iterator[None]:
    """Within this block (in this thread) every patched function behaves as the original."""
    previous = getattr(_local, "disabled", False)
    _local.disabled = True
    try:
        yield
    finally:
        _local.disabled = previous


def _globally_disabled() -> bool:
    return getattr(_local, "disabled", False)


# ---- the call of the original --------------------------------------------------------------------
class _OriginalCall:
    """The original function, as handed to a patch: records whether it ran, its result and its error."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = self.fn(*args, **kwargs)
        except BaseException as exc:
            self.error = exc
            raise
        self.done = True
        self.result = result
        return result


@dataclass
class _Spec:
    integration: str
    patch_fn: Callable[..., Any]
    session: bool
    nested: bool
    what: str
    skip: Callable[..., bool] | None = None

    def active(self) -> bool:
        return _config.is_enabled(self.integration) and not _globally_disabled()


def _run_patch(spec: _Spec, session: Any, original: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    call = _OriginalCall(original)
    try:
        if session is None:
            result = spec.patch_fn(call, *args, **kwargs)
        else:
            result = spec.patch_fn(session, call, *args, **kwargs)
    except BaseException as exc:
        if call.error is not None:  # the user's code failed: that is the answer
            if exc is call.error:
                raise
            raise call.error from None
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit
            raise
        _config.warn(spec.integration, "Encountered an unexpected error during %s autologging (%s): %s: %s. "
                     "The call itself is unaffected.", spec.integration, spec.what, type(exc).__name__, exc)
        _logger.debug("autologging failure", exc_info=True)
        if call.done:
            return call.result
        return original(*args, **kwargs)
    if not call.done:
        return original(*args, **kwargs)
    return result


def _invoke(spec: _Spec, original: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    if not spec.active() or (spec.skip is not None and _skips(spec, args, kwargs)):
        return original(*args, **kwargs)
    current = current_session()
    if not spec.session:
        return _run_patch(spec, None, original, args, kwargs)
    if current is not None:
        if spec.nested and current.integration == spec.integration:
            return _run_patch(spec, current, original, args, kwargs)
        return original(*args, **kwargs)
    from fluvial.autologging.session import open_session

    try:
        session = open_session(spec.integration)
    except Exception as exc:
        _config.warn(spec.integration, "fluvial %s autologging could not start a run (%s: %s); %s runs without "
                     "autologging.", spec.integration, type(exc).__name__, exc, spec.what)
        return original(*args, **kwargs)
    if session is None:
        return original(*args, **kwargs)
    stack = _sessions()
    stack.append(session)
    status = "FINISHED"
    try:
        return _run_patch(spec, session, original, args, kwargs)
    except BaseException:
        status = "FAILED"
        raise
    finally:
        stack.remove(session)
        session.close(status)


def _skips(spec: _Spec, args: tuple, kwargs: dict) -> bool:
    try:
        return bool(spec.skip(*args, **kwargs))  # type: ignore[misc]
    except Exception as exc:
        _config.warn(spec.integration, "fluvial %s autologging could not inspect the call of %s (%s: %s); it runs "
                     "without autologging.", spec.integration, spec.what, type(exc).__name__, exc)
        return True


# ---- installing and removing ---------------------------------------------------------------------
@dataclass
class _Patch:
    target: Any
    name: str
    previous: Any  # what target.__dict__ held, or _MISSING (the attribute was inherited)
    installed: Any


class _PatchedDescriptor:
    """Stands in for a non-function descriptor (e.g. scikit-learn's ``available_if``): attribute access
    behaves as before (``hasattr`` still says False where the original raises AttributeError), and the
    bound method it returns is patched."""

    def __init__(self, descriptor: Any, spec: _Spec) -> None:
        self._descriptor = descriptor
        self._spec = spec
        functools.update_wrapper(self, descriptor, updated=())  # type: ignore[arg-type]

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        bound = self._descriptor.__get__(obj, owner)
        if obj is None:
            return bound
        spec = self._spec

        def unbound(_self: Any, *args: Any, **kwargs: Any) -> Any:
            return bound(*args, **kwargs)

        @functools.wraps(bound)
        def method(*args: Any, **kwargs: Any) -> Any:
            return _invoke(spec, unbound, (obj, *args), kwargs)

        return method


def safe_patch(
    integration: str,
    target: Any,
    name: str,
    patch_fn: Callable[..., Any],
    *,
    session: bool = True,
    nested: bool = False,
    skip: Callable[..., bool] | None = None,
) -> None:
    """Patch ``target.<name>`` (a module function or a class's method, own or inherited); undone by
    :func:`revert_patches`. See the module docstring for what the wrapper does."""
    raw = inspect.getattr_static(target, name)
    if getattr(raw, "__fluvial_autolog__", None) == integration:
        return  # inherited from a class already patched for this integration
    what = f"{getattr(target, '__name__', target)}.{name}"
    spec = _Spec(integration, patch_fn, session, nested, what, skip)
    installed: Any
    if isinstance(raw, (staticmethod, classmethod)):
        raise TypeError(f"cannot patch {what}: static and class methods are not supported")
    if inspect.isclass(target) and not inspect.isfunction(raw) and hasattr(type(raw), "__get__"):
        installed = _PatchedDescriptor(raw, spec)
    else:
        original = raw

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _invoke(spec, original, args, kwargs)

        installed = wrapper
    installed.__fluvial_autolog__ = integration  # type: ignore[union-attr]
    previous = target.__dict__.get(name, _MISSING)
    setattr(target, name, installed)
    with _lock:
        _patches.setdefault(integration, []).append(_Patch(target, name, previous, installed))


def revert_patches(integration: str) -> None:
    """Undo every patch of ``integration``, newest first."""
    with _lock:
        patches = _patches.pop(integration, [])
    for patch in reversed(patches):
        if patch.target.__dict__.get(patch.name, _MISSING) is not patch.installed:
            continue  # replaced since by someone else: leave theirs
        if patch.previous is _MISSING:
            delattr(patch.target, patch.name)
        else:
            setattr(patch.target, patch.name, patch.previous)


def patched(integration: str) -> list[str]:
    """``"<target>.<name>"`` of each patch installed for ``integration`` (for tests and debugging)."""
    with _lock:
        return [f"{getattr(p.target, '__name__', p.target)}.{p.name}" for p in _patches.get(integration, [])]
