"""Reading a list that pages with ``after``, bounded whatever the service answers.

A service (or a mock) that ignores ``after`` answers the same page again with
``has_more: true``; one that loops between cursors never ends either. Paging stops where
``has_more`` is not true, a page is empty, its last item has no ``id`` (no cursor), or the
next cursor was already used; :data:`MAX_PAGES` is the backstop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["MAX_PAGES", "item_field", "pages"]

MAX_PAGES = 1000
"""The most pages one list is read through (100,000 items at 100 a page)."""
log = logging.getLogger("ftsdk.openai")


def item_field(obj: Any, name: str) -> Any:
    """``obj.name`` when the answer has it, else ``None`` (a dict or an SDK object, whose
    undeclared fields live in ``model_extra``)."""
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None)
        if isinstance(extra, dict):
            value = extra.get(name)
    return value


def pages(fetch: Callable[[str | None], Any], *, what: str = "list") -> Iterator[Any]:
    """Every item of a paged list, page after page; ``fetch(after)`` reads one page
    (``after=None`` for the first)."""
    used: set[str] = set()
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = fetch(after)
        data = item_field(page, "data")
        items = list(data) if isinstance(data, list) else []
        yield from items
        last = item_field(items[-1], "id") if items else None
        if item_field(page, "has_more") is not True or not isinstance(last, str):
            return
        if last in used or last == after:
            log.warning("%s: the service gave cursor %r again; stopped paging", what, last)
            return
        used.add(last)
        after = last
    log.warning("%s: stopped after %d pages", what, MAX_PAGES)
