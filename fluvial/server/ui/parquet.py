"""The artifact browser's Parquet preview: the schema, the row count and the first rows of a Parquet file,
read with pyarrow from the file's footer and first row group only (never the whole file), at most
``MAX_COLUMNS`` columns, each cell as JSON (numbers, booleans, null; everything else as text cut to
``CELL_CHARS`` characters)."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from fluvial.exceptions import InvalidParameterValue, NotImplementedFeature

MAX_ROWS = 1000
DEFAULT_ROWS = 100
MAX_COLUMNS = 200
CELL_CHARS = 500
SPOOL_LIMIT = 2 * 1024 ** 3  # a non-seekable stream is copied to a temporary file up to this size


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        text = value[:CELL_CHARS].hex()
        return f"0x{text}…" if len(value) > CELL_CHARS else f"0x{text}"
    text = str(value)
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS] + "…"


@contextmanager
def seekable(stream: IO[bytes]) -> Iterator[IO[bytes]]:
    """``stream`` itself when it can seek (Parquet's footer is at the end), else a temporary copy on disk."""
    try:
        can_seek = stream.seekable()
    except (AttributeError, OSError, ValueError):
        can_seek = False
    if can_seek:
        yield stream
        return
    with tempfile.TemporaryFile(prefix="fluvial-parquet-") as tmp:
        copied = 0
        while block := stream.read(1 << 20):
            copied += len(block)
            if copied > SPOOL_LIMIT:
                raise InvalidParameterValue("The file is too large to preview from this artifact store.")
            tmp.write(block)
        tmp.seek(0, os.SEEK_SET)
        yield tmp


def preview(stream: IO[bytes], max_rows: int = DEFAULT_ROWS) -> dict[str, Any]:
    """``{"columns": [{"name", "type"}], "rows": [[...]], "total_rows", "total_columns", "truncated"}``."""
    if not 1 <= max_rows <= MAX_ROWS:
        raise InvalidParameterValue(f"max_rows must be between 1 and {MAX_ROWS}, got {max_rows}.")
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise NotImplementedFeature(
            "Parquet previews need pyarrow on the server: pip install pyarrow (or fluvial[recipes]).") from exc
    import pyarrow as pa

    with seekable(stream) as source:
        try:
            pf = pq.ParquetFile(source, pre_buffer=False)
            schema = pf.schema_arrow
            names = schema.names[:MAX_COLUMNS]
            types = [str(schema.field(i).type) for i in range(len(names))]
            total = pf.metadata.num_rows
            rows: list[list[Any]] = []
            if names and total:
                batch = next(pf.iter_batches(batch_size=max_rows, columns=names, use_threads=False), None)
                if batch is not None:
                    columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                    rows = [[_cell(col[i]) for col in columns] for i in range(min(max_rows, batch.num_rows))]
        except (pa.ArrowException, OSError) as exc:
            raise InvalidParameterValue(f"Not a readable Parquet file: {str(exc).splitlines()[0][:200]}") from exc
    return {
        "columns": [{"name": n, "type": t} for n, t in zip(names, types, strict=True)],
        "rows": rows,
        "total_rows": total,
        "total_columns": len(schema.names),
        "truncated": total > len(rows) or len(schema.names) > len(names),
    }

