"""Dataset digests: 8 hex characters of an MD5 over a sample of the data.

They are computed exactly as MLflow 2.x computes them, so a dataset logged by fluvial and by MLflow gets
the same digest (runs link to one dataset row): for a DataFrame, the first 10,000 rows of its numeric
columns and of its columns that hold only ``str`` values (pandas' ``hash_pandas_object``, index
included), then the row count and the column names; for numpy data, the first 10,000 elements of each
flattened array (``hash_array``; the element count when the dtype cannot be hashed) and its shape, dict
keys in sorted order, features then targets. Deliberate difference: which columns hold only strings is
decided on the 10,000 sampled rows, not on the whole frame (MLflow scans every row, which is slow).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fluvial.exceptions import InvalidParameterValue

MAX_ROWS = 10000


def get_normalized_md5_digest(elements: list[Any]) -> str:
    """The first 8 hex digits of the MD5 of the elements' bytes (each ``bytes``-like)."""
    if not elements:
        raise InvalidParameterValue("No hashable elements were provided for md5 digest creation")
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:8]


def compute_pandas_digest(df: Any) -> str:
    import numpy as np
    import pandas as pd

    sample = df.head(MAX_ROWS)
    only_strings = [all(type(v) is str for v in sample.iloc[:, i].tolist()) for i in range(sample.shape[1])]
    string_columns = sample.columns[np.array(only_strings, dtype=bool)]
    numeric_columns = sample.select_dtypes(include=[np.number]).columns
    sample = sample[string_columns.union(numeric_columns)]
    return get_normalized_md5_digest(
        [pd.util.hash_pandas_object(sample).values, np.int64(len(df))] + [str(c).encode() for c in df.columns]
    )


def compute_numpy_digest(features: Any, targets: Any = None) -> str:
    import numpy as np
    import pandas as pd

    elements: list[Any] = []

    def add(array: Any) -> None:
        flat = np.asarray(array).flatten()[:MAX_ROWS]
        try:
            elements.append(pd.util.hash_array(flat))
        except TypeError:
            elements.append(np.int64(flat.size))
        elements.extend(np.int64(n) for n in np.shape(array))

    for item in (features, targets):
        if item is None:
            continue
        if isinstance(item, dict):
            for key in sorted(item):
                add(item[key])
        else:
            add(item)
    return get_normalized_md5_digest(elements)
