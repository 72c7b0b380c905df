"""Turning numpy arrays and PIL images into PIL images for ``log_image``."""

from __future__ import annotations

from typing import Any

from fluvial._internal.lazy import require
from fluvial.exceptions import InvalidParameterValue


def to_pil(image: Any) -> Any:
    Image = require("PIL.Image", "dev")
    if isinstance(image, Image.Image):
        return image
    np = require("numpy", "data")
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise InvalidParameterValue(f"Unsupported image shape {arr.shape}; expected (H, W) or (H, W, 1|3|4)")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if np.issubdtype(arr.dtype, np.floating):
        if arr.min() < 0 or arr.max() > 1:
            raise InvalidParameterValue("Float images must have values in [0, 1]")
        arr = (arr * 255).round().astype(np.uint8)
    elif arr.dtype != np.uint8:
        if arr.min() < 0 or arr.max() > 255:
            raise InvalidParameterValue("Integer images must have values in [0, 255]")
        arr = arr.astype(np.uint8)
    return Image.fromarray(arr)
