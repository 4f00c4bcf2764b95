"""Paths: resolve a concrete URL path (``/v1/fine_tuning/jobs/ftjob-1/events``) to the
OpenAPI path template it instantiates (``/fine_tuning/jobs/{fine_tuning_job_id}/events``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

__all__ = ["PathMatch", "match_path_template"]


@dataclass(frozen=True, slots=True)
class PathMatch:
    """A concrete URL path resolved to a path template.

    ``methods`` lists the methods the template supports (empty when unknown), so a
    caller can tell 404 (no match) from 405 (method not in ``methods``).
    """

    template: str
    params: Mapping[str, str]
    methods: frozenset[str] = field(default_factory=frozenset)


@functools.lru_cache(maxsize=256)
def _template_pattern(template: str) -> tuple[re.Pattern[str], int]:
    """A regex for a path template, and its number of literal segments."""
    regex, literal = "", 0
    for part in (p for p in template.strip("/").split("/") if p):
        if part.startswith("{") and part.endswith("}"):
            regex += f"/(?P<{part[1:-1]}>[^/]+)"
        else:
            literal += 1
            regex += "/" + re.escape(part)
    return re.compile(regex + "/?"), literal


def match_path_template(path: str, templates: Iterable[str]) -> PathMatch | None:
    """Resolve a concrete path (``/v1/fine_tuning/jobs/ftjob-1/events``) to a template.

    A leading ``/v1`` (OpenAI's server base path), a query string and a trailing
    slash are ignored; parameter values are percent-decoded.  When several templates
    match, the one with the most literal segments wins.
    """
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:] or "/"
    found: list[tuple[int, str, dict[str, str]]] = []
    for template in templates:
        pattern, literal = _template_pattern(template)
        matched = pattern.fullmatch(path)
        if matched:
            params = {k: unquote(v) for k, v in matched.groupdict().items()}
            found.append((literal, template, params))
    if not found:
        return None
    _, template, params = max(found, key=lambda item: item[0])
    return PathMatch(template=template, params=params)
