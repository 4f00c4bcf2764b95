"""Strict mode for the Azure flavor: refuse what Azure OpenAI's published description of the
request's API version does not define.

The rules are ``azure-subset.json``, written by ``scripts/extract_azure_subset.py`` from
the specs under ``specs/azure/`` (query parameters, body fields and required fields per
operation and version; the fields of the job and file objects each version answers
with). A request with a query parameter or body field its version does not define, or
without one it requires, gets Azure's 400 ``invalidPayload``, the way an unknown field
would go unnoticed by a lax service but never by a careful client.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ftsdk_emulator.service import ApiError

__all__ = ["SUBSET", "check", "objects", "rules", "version_of"]

SUBSET = Path(__file__).with_name("azure-subset.json")


@functools.cache
def rules() -> dict[str, Any]:
    """The subset, read once."""
    loaded: dict[str, Any] = json.loads(SUBSET.read_text())
    return loaded


def version_of(dated: bool, api_version: str | None) -> str | None:
    """The described version a request is checked against (``None``: not described)."""
    if not dated:
        return "v1"
    return api_version if api_version in rules() else None


def objects(version: str | None, kind: str) -> frozenset[str] | None:
    """The fields of ``kind`` (``job``, ``file``, ``file_list``) in ``version``'s answers."""
    if version is None:
        return None
    return frozenset(rules()[version]["objects"][kind])


def check(
    version: str | None,
    template: str,
    *,
    query: Iterable[str] = (),
    body: Iterable[str] | None = None,
) -> None:
    """Raise the 400 for a query parameter or body field ``version`` does not define for
    ``template`` (``"POST /fine_tuning/jobs"``), or a required body field left out."""
    if version is None:
        return
    operation = rules()[version]["operations"].get(template)
    if operation is None:
        return
    for name in query:
        base = name.split("[", 1)[0]
        if name != "api-version" and base not in operation["query"]:
            raise ApiError(
                400,
                f"The query parameter '{name}' is not defined for {template} in API "
                f"version {version}.",
                param=name,
                code="invalidPayload",
            )
    if body is None:
        return
    given = set(body)
    for name in sorted(given - set(operation["body"])):
        raise ApiError(
            400,
            f"The field '{name}' is not defined for {template} in API version {version}.",
            param=name,
            code="invalidPayload",
        )
    for name in operation["required"]:
        if name not in given:
            raise ApiError(
                400,
                f"Missing required field '{name}' for {template} in API version {version}.",
                param=name,
                code="invalidPayload",
            )
