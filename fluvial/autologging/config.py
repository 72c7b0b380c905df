"""Per-integration autologging configuration: what each integration's ``autolog(...)`` was last called
with, whether it is enabled, version checks, and the integration's own (silenceable) log messages."""

from __future__ import annotations

import functools
import inspect
import logging
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar

_logger = logging.getLogger("fluvial.autologging")

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.RLock()
_configs: dict[str, dict[str, Any]] = {}  # integration -> the arguments of its last autolog() call
_explicit: set[str] = set()  # integrations configured by their own autolog(), not by fluvial.autolog()
_local = threading.local()


def get_config(integration: str, key: str, default: Any = None) -> Any:
    """One option of the integration's last ``autolog()`` call (``default`` when never called)."""
    with _lock:
        return _configs.get(integration, {}).get(key, default)


def get_configs(integration: str) -> dict[str, Any]:
    with _lock:
        return dict(_configs.get(integration, {}))


def is_enabled(integration: str) -> bool:
    with _lock:
        config = _configs.get(integration)
        return config is not None and not config.get("disable", False)


def is_explicit(integration: str) -> bool:
    """Whether the integration's own ``autolog()`` configured it (that wins over ``fluvial.autolog()``)."""
    with _lock:
        return integration in _explicit


class universal_call:
    """Marks calls made by ``fluvial.autolog()`` (they do not count as explicit configuration)."""

    def __enter__(self) -> None:
        _local.universal = True

    def __exit__(self, *exc: Any) -> None:
        _local.universal = False


def enabled_integrations() -> list[str]:
    with _lock:
        return sorted(name for name, config in _configs.items() if not config.get("disable", False))


def autologging_integration(name: str) -> Callable[[F], F]:
    """Decorate an integration's ``autolog`` function: each call records its arguments (defaults
    filled in) as the integration's configuration and removes the patches of the previous call; with
    ``disable=True`` nothing else happens, otherwise the function runs to install the new patches."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from fluvial.autologging import hooks, patching

            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            config = dict(bound.arguments)
            config.update(config.pop("kwargs", None) or {})
            _check_extra_tags(config.get("extra_tags"))  # before anything changes
            patching.revert_patches(name)
            hooks.cancel(name)
            with _lock:
                _configs[name] = config
                if getattr(_local, "universal", False):
                    _explicit.discard(name)
                else:
                    _explicit.add(name)
            if config.get("disable"):
                return None
            return fn(*bound.args, **bound.kwargs)

        wrapper.integration_name = name  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _check_extra_tags(extra_tags: Any) -> None:
    if extra_tags is None:
        return
    if not isinstance(extra_tags, dict) or not all(isinstance(k, str) for k in extra_tags):
        from fluvial.exceptions import InvalidParameterValue

        raise InvalidParameterValue(
            f"extra_tags must be a dict of tag names (str) to values, got {type(extra_tags).__name__}: {extra_tags!r:.200}"
        )


def _reset_for_tests() -> None:
    with _lock:
        _configs.clear()
        _explicit.clear()


# ---- messages ------------------------------------------------------------------------------------
def info(integration: str, message: str, *args: Any) -> None:
    if not get_config(integration, "silent", False):
        _logger.info(message, *args)


def warn(integration: str, message: str, *args: Any) -> None:
    """A warning from autologging itself. It goes to the ``fluvial.autologging`` logger, never through
    :mod:`warnings`: a warnings filter set to "error" must not turn an autologging problem into a
    failure of the user's code."""
    if not get_config(integration, "silent", False):
        _logger.warning(message, *args)


# ---- versions ------------------------------------------------------------------------------------
def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"\d+(\.\d+)*", version.strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def version_supported(version: str, minimum: str, maximum: str) -> bool:
    """``minimum <= version`` and the version is no newer than ``maximum`` at ``maximum``'s precision
    (``maximum="3.2"`` admits 3.2.9 but not 3.3)."""
    have, low, high = _release(version), _release(minimum), _release(maximum)
    return bool(have) and have >= low and have[: len(high)] <= high


def check_version(integration: str, library: str, version: str, minimum: str, maximum: str) -> bool:
    """Whether to patch: outside the tested range, warn (unless silent) and go ahead unless
    ``disable_for_unsupported_versions`` was set."""
    if version_supported(version, minimum, maximum):
        return True
    skip = bool(get_config(integration, "disable_for_unsupported_versions", False))
    warn(integration, "fluvial %s autologging is tested with %s %s to %s; the installed version is %s%s.",
         integration, library, minimum, maximum, version,
         ", so autologging is disabled for it (disable_for_unsupported_versions=True)" if skip
         else ". If autologging misbehaves, try a version in that range")
    return not skip
