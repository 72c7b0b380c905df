"""Adaptive batching: requests that arrive while the model is busy are predicted together.

Batchable requests (``dataframe_split`` without an index, or ``dataframe_records``, with no
``params``) go to one queue per worker process. One prediction runs at a time; when it ends, the next
one takes every queued request with the same columns, up to ``max_rows`` rows. How long it waits for
more is adaptive: it waits (at most ``max_wait_ms``) only until it has as many requests as the largest
of the last few batches had. A server under steady concurrent load therefore predicts full batches,
while a lone client never waits (its batches have one request, so the target is one).

The output is split back by row counts. When it does not have one entry per input row, or a batch
fails (one bad request spoils a batch), each request of the batch is predicted on its own instead,
so every request gets exactly the answer (or error) it would get alone. A timeout is everyone's.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BatchConfig:
    max_rows: int = 256
    max_wait_ms: float = 2.0
    history: int = 8  # batches remembered for the adaptive wait target


@dataclass
class _Item:
    columns: tuple[Any, ...]
    rows: list[Any]
    future: asyncio.Future[Any]


def batch_key(payload: dict[str, Any]) -> tuple[tuple[Any, ...], list[Any]] | None:
    """(columns, rows as lists) for payloads that can share a batch; None for anything else."""
    if len(payload) != 1:
        return None
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if not isinstance(split, dict) or set(split) != {"columns", "data"}:
            return None
        columns, data = split["columns"], split["data"]
        if not isinstance(columns, list) or not isinstance(data, list) or not data:
            return None
        width = len(columns)
        if not all(isinstance(r, list) and len(r) == width for r in data):
            return None
        key = tuple(columns)
        try:
            hash(key)
        except TypeError:  # unhashable column names (lists, objects): not batchable
            return None
        return key, data
    if "dataframe_records" in payload:
        records = payload["dataframe_records"]
        if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
            return None
        columns = tuple(records[0])
        if any(tuple(r) != columns for r in records):
            return None
        return columns, [list(r.values()) for r in records]
    return None


def _rows_of(output: Any) -> int | None:
    if isinstance(output, (str, bytes, dict)):
        return None
    try:
        return len(output)
    except TypeError:
        return None


def _slice(output: Any, start: int, stop: int) -> Any:
    if hasattr(output, "iloc"):
        return output.iloc[start:stop]
    return output[start:stop]


def _resolve(item: _Item, *, result: Any = None, error: BaseException | None = None) -> None:
    if item.future.done():  # the request gave up (timeout, client gone)
        return
    if error is not None:
        item.future.set_exception(error)
    else:
        item.future.set_result(result)


class Batcher:
    """Collects batchable requests and predicts them together, one batch at a time."""

    def __init__(self, predict_split: Callable[[dict[str, Any]], Any], config: BatchConfig,
                 run: Callable[[Callable[[], Any]], Awaitable[Any]]) -> None:
        self.predict_split = predict_split  # {"columns", "data"} -> model output
        self.config = config
        self.run = run  # runs a callable off the event loop (with the request timeout)
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.recent: collections.deque[int] = collections.deque(maxlen=max(1, config.history))
        self.batches = 0  # counters, for tests and curiosity
        self.batched_requests = 0

    async def submit(self, columns: tuple[Any, ...], rows: list[Any]) -> Any:
        loop = asyncio.get_running_loop()
        if self.worker is None or self.worker.done():
            self.worker = loop.create_task(self._work())
        future: asyncio.Future[Any] = loop.create_future()
        self.queue.put_nowait(_Item(columns, rows, future))
        return await future

    def _target(self) -> int:
        return max(self.recent, default=1)

    async def _gather(self) -> list[_Item]:
        first = await self.queue.get()
        items, size = [first], len(first.rows)
        while size < self.config.max_rows and not self.queue.empty():
            item = self.queue.get_nowait()
            items.append(item)
            size += len(item.rows)
        target = self._target()
        if len(items) < target and size < self.config.max_rows and self.config.max_wait_ms > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.config.max_wait_ms / 1000
            while len(items) < target and size < self.config.max_rows:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                items.append(item)
                size += len(item.rows)
        self.recent.append(len(items))
        return [item for item in items if not item.future.done()]

    async def _work(self) -> None:
        while True:
            items = await self._gather()
            try:
                groups: dict[tuple[Any, ...], list[_Item]] = {}
                for item in items:
                    groups.setdefault(item.columns, []).append(item)
                for columns, group in groups.items():
                    await self._predict_group(columns, group)
            except Exception as exc:  # never leave a request waiting on a dead batcher
                for item in items:
                    _resolve(item, error=exc)

    async def _predict_group(self, columns: tuple[Any, ...], group: list[_Item]) -> None:
        rows = group[0].rows if len(group) == 1 else [row for item in group for row in item.rows]
        self.batches += 1
        self.batched_requests += len(group)
        try:
            output = await self.run(lambda: self.predict_split({"columns": list(columns), "data": rows}))
        except Exception as exc:
            if len(group) == 1 or getattr(exc, "status", None) == 504:
                for item in group:
                    _resolve(item, error=exc)
                return
            for item in group:
                await self._predict_group(columns, [item])
            return
        if len(group) == 1:
            _resolve(group[0], result=output)
            return
        if _rows_of(output) != len(rows):
            for item in group:
                await self._predict_group(columns, [item])
            return
        start = 0
        for item in group:
            stop = start + len(item.rows)
            _resolve(item, result=_slice(output, start, stop))
            start = stop


__all__ = ["BatchConfig", "Batcher", "batch_key"]
