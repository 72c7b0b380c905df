"""Page tokens (base64 of ``{"offset": N}``, as MLflow's stores write them, or of ``{"keyset": {...}}``,
fluvial's: the sort key of the last row, so the next page starts there without counting rows) and
``max_results`` checks."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fluvial.exceptions import InvalidParameterValue


def encode_page_token(offset: int) -> str:
    """The token for the page starting at ``offset``; e.g. 1 -> ``eyJvZmZzZXQiOiAxfQ==``."""
    return base64.b64encode(json.dumps({"offset": int(offset)}).encode("utf-8")).decode("ascii")


def decode_page_token(token: str | bytes | None) -> int:
    """The offset a token encodes; ``None`` or ``""`` -> 0. Garbage raises ``InvalidParameterValue``."""
    if not token:
        return 0
    try:
        decoded = base64.b64decode(token)
    except (TypeError, ValueError, binascii.Error):
        raise InvalidParameterValue("Invalid page token, could not base64-decode") from None
    try:
        parsed: Any = json.loads(decoded)
    except ValueError:
        raise InvalidParameterValue(f"Invalid page token, decoded value={decoded!r}") from None
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    if isinstance(offset, bool) or offset is None:
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed}")
    try:
        value = int(offset)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Invalid page token, not stringable {offset}") from None
    if value < 0:
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed}")
    return value


def encode_keyset_token(state: dict[str, Any]) -> str:
    """A keyset token (fluvial): where the next page starts, as the last row's sort key."""
    return base64.b64encode(json.dumps({"keyset": state}).encode("utf-8")).decode("ascii")


def decode_any_token(token: str | bytes | None) -> tuple[int, dict[str, Any] | None]:
    """(offset, keyset state): keyset tokens give (0, state); offset tokens (MLflow's) (offset, None)."""
    if token:
        try:
            parsed = json.loads(base64.b64decode(token))
        except (TypeError, ValueError, binascii.Error):
            parsed = None
        if isinstance(parsed, dict) and "keyset" in parsed:
            if not isinstance(parsed["keyset"], dict):
                raise InvalidParameterValue(f"Invalid page token, parsed value={parsed}")
            return 0, parsed["keyset"]
    return decode_page_token(token), None


def validate_max_results(value: Any, maximum: int, name: str = "max_results") -> int:
    """Return ``value`` as an int if it is a positive integer <= ``maximum``; else raise MLflow's error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterValue(
            f"Invalid value {value} for parameter '{name}' supplied. It must be a positive integer"
        )
    if value > maximum:
        raise InvalidParameterValue(
            f"Invalid value {value} for parameter '{name}' supplied. It must be at most {maximum}"
        )
    return value
