"""The transport protocol: send one HTTP request, get one response."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | IO[bytes] | None = None  # a file object is streamed (Content-Length must be set)
    timeout: float | None = None


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    stream: Any = None  # when sent with stream=True: an iterator of chunks, closed by close()

    def iter_bytes(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        if self.stream is None:
            if self.body:
                yield self.body
            return
        yield from self.stream(chunk_size)

    def close(self) -> None:
        closer = getattr(self.stream, "close", None)
        if closer is not None:
            closer()

    def json(self) -> Any:
        import json

        return json.loads(self.body or b"{}")


class Transport(abc.ABC):
    @abc.abstractmethod
    def send(self, request: HttpRequest, stream: bool = False) -> HttpResponse:
        """Send the request; raise ``fluvial.exceptions.MlflowException`` when it cannot be delivered."""
