"""A page of results with the token for the next page."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class PagedList(list, Generic[T]):  # type: ignore[type-arg]
    """A list of one page of results; ``token`` is None on the last page."""

    def __init__(self, items: list[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token
